import { KeelError } from '@keel/contracts';
import { isDatabaseUnavailable, toKeelError } from './error.filter';

describe('toKeelError', () => {
  it('maps body-parser failures to 413 and 400', () => {
    expect(toKeelError({ type: 'entity.too.large', limit: 1048576 })).toMatchObject({ code: 'payload_too_large', httpStatus: 413 });
    expect(toKeelError({ type: 'entity.parse.failed', message: 'Unexpected end' })).toMatchObject({ code: 'invalid_request', httpStatus: 400 });
  });

  it('maps a database that is restarting or unreachable to a retryable 503', () => {
    for (const err of [{ code: '57P01' }, { driverError: { code: '08006' } }, { code: 'ECONNREFUSED' }, new Error('Connection terminated unexpectedly')]) {
      expect(isDatabaseUnavailable(err)).toBe(true);
      expect(toKeelError(err)).toMatchObject({ code: 'unavailable', httpStatus: 503, retryAfterMs: 1000 });
    }
  });

  it('maps a value Postgres cannot store (NUL, unpaired surrogate, deep nesting) to 400, not 500', () => {
    for (const code of ['22021', '22P05', '22P02', '54001']) {
      expect(toKeelError({ code })).toMatchObject({ code: 'invalid_request', httpStatus: 400 });
      expect(toKeelError({ driverError: { code } })).toMatchObject({ code: 'invalid_request', httpStatus: 400 });
    }
    expect(toKeelError({ code: '23505' }).code).toBe('internal');
  });

  it('keeps KeelErrors and hides anything else as internal', () => {
    expect(toKeelError(new KeelError('not_found', 'x')).code).toBe('not_found');
    expect(isDatabaseUnavailable({ code: '23505' })).toBe(false);
    expect(toKeelError(new Error('boom')).code).toBe('internal');
  });
});
