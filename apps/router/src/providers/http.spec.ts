import { errorMessage, joinUrl, parseArguments, retryAfterMs } from './http';
import { ProviderError } from './provider';

describe('retryAfterMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('prefers retry-after-ms, as the official OpenAI client does', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '3' }), now)).toBe(250);
  });

  it('reads Retry-After as seconds (also fractional)', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': '0.5' }), now)).toBe(500);
  });

  it('reads Retry-After as an HTTP date; a past date means now', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' }), now)).toBe(7000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }), now)).toBe(0);
  });

  it('ignores missing or unparseable values', () => {
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '-5' }), now)).toBeUndefined();
  });
});

describe('errorMessage', () => {
  it('extracts {error: {type, message}} and shortens raw text', () => {
    expect(errorMessage('{"error":{"type":"rate_limit_error","message":"slow down"}}')).toBe('rate_limit_error: slow down');
    expect(errorMessage('<html>bad gateway</html>')).toBe('<html>bad gateway</html>');
    expect(errorMessage('x'.repeat(3000))).toHaveLength(2001);
    expect(errorMessage('  ')).toBe('');
  });
});

describe('parseArguments', () => {
  it('parses a JSON object; empty means no arguments', () => {
    expect(parseArguments('p', 't', '{"a":1}')).toEqual({ a: 1 });
    expect(parseArguments('p', 't', '')).toEqual({});
  });

  it.each(['{"a":', '[1,2]', '"text"'])('rejects %s as a retryable malformed answer', (json) => {
    let thrown: unknown;
    try {
      parseArguments('p', 'calc', json);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ProviderError);
    expect(thrown).toMatchObject({ code: 'provider_error', retryable: true });
    expect((thrown as Error).message).toContain('calc');
  });
});

describe('joinUrl', () => {
  it('joins with exactly one slash', () => {
    expect(joinUrl('http://h/v1/', '/chat/completions')).toBe('http://h/v1/chat/completions');
    expect(joinUrl('http://h/v1', 'chat/completions')).toBe('http://h/v1/chat/completions');
  });
});
