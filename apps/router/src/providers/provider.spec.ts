import { KeelError } from '@keel/contracts';
import { isRetryableStatus, ProviderError } from './provider';

describe('isRetryableStatus', () => {
  it.each([408, 429, 500, 502, 503, 504, 599])('retries %i', (status) => {
    expect(isRetryableStatus(status)).toBe(true);
  });

  it.each([400, 401, 403, 404, 409, 413, 422])('does not retry %i', (status) => {
    expect(isRetryableStatus(status)).toBe(false);
  });
});

describe('ProviderError', () => {
  it('is a KeelError carrying status and Retry-After', () => {
    const err = ProviderError.fromStatus(429, 'rate limited', 100);
    expect(err).toBeInstanceOf(KeelError);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.name).toBe('ProviderError');
    expect(err.code).toBe('provider_error');
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBe(100);
    expect(err.retryable).toBe(true);
  });

  it('derives retryable from the status', () => {
    expect(ProviderError.fromStatus(400, 'bad request').retryable).toBe(false);
    expect(ProviderError.fromStatus(503, 'unavailable').retryable).toBe(true);
  });

  it('treats timeouts as retryable and other status-less errors as not, unless told', () => {
    expect(new ProviderError('timeout', 'slow').retryable).toBe(true);
    expect(new ProviderError('provider_error', 'odd').retryable).toBe(false);
    expect(new ProviderError('provider_error', 'malformed', { retryable: true }).retryable).toBe(true);
  });
});
