/**
 * The one error type that crosses service boundaries. `code` is stable and
 * documented (clients branch on it); `retryable` decides between a JetStream
 * nak-with-backoff and a dead letter / terminal task failure.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'timeout'
  | 'unavailable'
  | 'provider_error'
  | 'script_exhausted'
  | 'tool_error'
  | 'tool_not_allowed'
  | 'egress_denied'
  | 'outcome_unknown'
  | 'input_blocked'
  | 'output_blocked'
  | 'max_steps_exceeded'
  | 'step_failed'
  | 'step_timeout'
  | 'loop_detected'
  | 'no_progress'
  | 'cancelled'
  | 'tool_unavailable'
  | 'budget_exceeded'
  | 'context_overflow'
  | 'internal';

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  invalid_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  budget_exceeded: 402,
  unavailable: 503,
  timeout: 504,
};

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
  retryable?: boolean;
  retryAfterMs?: number;
}

export interface KeelErrorOptions {
  retryable?: boolean;
  details?: unknown;
  retryAfterMs?: number;
  cause?: unknown;
}

export class KeelError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details?: unknown;
  readonly retryAfterMs?: number;

  constructor(code: ErrorCode, message: string, options: KeelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code] ?? 500;
  }

  toJSON(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.details !== undefined) body.details = this.details;
    if (this.retryable) body.retryable = true;
    if (this.retryAfterMs !== undefined) body.retryAfterMs = this.retryAfterMs;
    return body;
  }

  static fromJSON(body: ErrorBody): KeelError {
    return new KeelError(body.code, body.message, {
      retryable: body.retryable,
      details: body.details,
      retryAfterMs: body.retryAfterMs,
    });
  }

  /** Wraps anything thrown into a KeelError without losing the original. */
  static wrap(err: unknown, code: ErrorCode = 'internal'): KeelError {
    if (err instanceof KeelError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new KeelError(code, message, { cause: err });
  }
}

/** A failure worth trying again (timeouts, 429, 5xx, a peer that is down). */
export function retryable(code: ErrorCode, message: string, options: Omit<KeelErrorOptions, 'retryable'> = {}): KeelError {
  return new KeelError(code, message, { ...options, retryable: true });
}
