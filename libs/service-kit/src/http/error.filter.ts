import { Catch, HttpException } from '@nestjs/common';
import type { ArgumentsHost, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { KeelError } from '@keel/contracts';
import type { ErrorCode } from '@keel/contracts';
import type { Logger } from '@keel/telemetry';

/**
 * Every HTTP error leaves as `{error: {code, message, details?}}` with a
 * stable code. Body-parser failures (too large, bad JSON) become 413/400, not
 * 500; anything unexpected is logged and answered as `internal` without
 * leaking its message.
 */
@Catch()
export class KeelErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const err = toKeelError(exception);
    if (err.code === 'internal') this.logger.error({ err: exception }, 'unhandled error in HTTP handler');
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err.retryAfterMs !== undefined) res.setHeader('Retry-After', Math.ceil(err.retryAfterMs / 1000).toString());
    const body = err.code === 'internal' ? { code: err.code, message: 'internal error' } : err.toJSON();
    delete (body as { retryable?: boolean }).retryable;
    res.status(err.httpStatus).json({ error: body });
  }
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'invalid_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'invalid_request',
  409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'rate_limited', 503: 'unavailable',
};

export function toKeelError(exception: unknown): KeelError {
  if (exception instanceof KeelError) return exception;
  // body-parser errors carry `type` and `status`.
  const bp = exception as { type?: string; status?: number; limit?: number; message?: string };
  if (bp?.type === 'entity.too.large') return new KeelError('payload_too_large', `request body is larger than the ${bp.limit ?? 1048576}-byte limit`);
  if (bp?.type === 'entity.parse.failed') return new KeelError('invalid_request', `request body is not valid JSON: ${bp.message ?? ''}`.trim());
  if (bp?.type === 'charset.unsupported' || bp?.type === 'encoding.unsupported') return new KeelError('unsupported_media_type', bp.message ?? 'unsupported encoding');
  if (isUnstorableInput(exception)) {
    return new KeelError('invalid_request', 'the request holds a value the database cannot store (a NUL character, an unpaired surrogate, or nesting too deep)');
  }
  if (isDatabaseUnavailable(exception)) {
    return new KeelError('unavailable', 'the database is unavailable right now; retry shortly (with the same Idempotency-Key)', { retryAfterMs: 1000 });
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const code = STATUS_CODES[status] ?? (status >= 500 ? 'internal' : 'invalid_request');
    const message = status === 404 ? 'no such route' : exception.message;
    return new KeelError(code, message);
  }
  return KeelError.wrap(exception);
}

/**
 * Postgres refused a value that came from the client, not a bug of ours: 22021 (a NUL in text), 22P05 (`\u0000` in
 * jsonb), 22P02 (an unpaired surrogate in jsonb), 54001 (nesting too deep). A 400, never retried.
 */
export function isUnstorableInput(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  return ['22021', '22P05', '22P02', '54001'].includes(e?.driverError?.code ?? e?.code ?? '');
}

/** Postgres restarting or unreachable: a client should retry, not treat it as a bug (57P0x admin shutdown, class 08 connection errors). */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string }; message?: string };
  const code = e?.driverError?.code ?? e?.code;
  if (typeof code === 'string' && (/^57P0[123]$/.test(code) || /^08/.test(code) || code === 'ECONNREFUSED' || code === 'ECONNRESET')) return true;
  return typeof e?.message === 'string' && /Connection terminated|connection timeout|the database system is (starting up|shutting down)/i.test(e.message);
}
