import { ProviderError } from './provider';

/**
 * HTTP plumbing shared by the OpenAI-compatible and Anthropic providers. The
 * official clients are the reference: `retry-after-ms`, then `Retry-After` as
 * seconds or an HTTP date; network failures are worth another attempt; a body
 * that is not the promised JSON is a (retryable) malformed answer.
 */

/** Enough of an error body to explain a failure without flooding logs. */
const MAX_ERROR_BODY_CHARS = 2_000;

export interface PostJsonInput {
  /** The provider id, used to prefix messages (`openai: HTTP 429 …`). */
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  signal: AbortSignal;
}

/** POSTs JSON; resolves with a 2xx response, or throws a ProviderError. */
export async function postJson({ provider, url, headers, body, signal }: PostJsonInput): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    throw transportError(provider, err, signal, 'request failed');
  }
  if (res.ok) return res;
  throw await statusError(provider, res, signal);
}

/** The delay a rate-limited or overloaded provider asked for, in ms. */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  // Non-standard but sent by OpenAI and honoured by its client first: milliseconds.
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.round(Number(ms));
  const value = headers.get('retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  // A date in the past means "now"; anything unparseable means "no advice".
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A non-2xx answer: status, Retry-After and the provider's own message. */
export async function statusError(provider: string, res: Response, signal: AbortSignal): Promise<ProviderError> {
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    // The status is what matters; a body cut off on the way is no reason to hide it.
    if (signal.aborted) return transportError(provider, err, signal, 'reading an error body');
  }
  const detail = errorMessage(text);
  const requestId = res.headers.get('x-request-id') ?? res.headers.get('request-id') ?? undefined;
  return new ProviderError('provider_error', `${provider}: HTTP ${res.status}${detail ? `: ${detail}` : ''}`, {
    status: res.status,
    retryAfterMs: retryAfterMs(res.headers),
    details: { provider, status: res.status, ...(requestId ? { requestId } : {}) },
  });
}

/** Both providers answer errors as `{error: {message, type}}`; anything else is shown raw (shortened). */
export function errorMessage(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (isRecord(parsed) && isRecord(parsed.error)) {
      const { message, type } = parsed.error;
      if (typeof message === 'string') return typeof type === 'string' ? `${type}: ${message}` : message;
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return trimmed.length > MAX_ERROR_BODY_CHARS ? `${trimmed.slice(0, MAX_ERROR_BODY_CHARS)}…` : trimmed;
}

/** Reads a 2xx body as JSON; a body that is not JSON is a retryable malformed answer. */
export async function readJson(provider: string, res: Response, signal: AbortSignal): Promise<unknown> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw transportError(provider, err, signal, 'reading the response body');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw malformed(provider, `response body is not JSON (${text.length} chars: ${JSON.stringify(text.slice(0, 80))})`, err);
  }
}

/**
 * A failure below HTTP: our own abort (attempt timeout) or a network error.
 * Both are transient, as for the official clients (connection errors are retried).
 */
export function transportError(provider: string, err: unknown, signal: AbortSignal, doing: string): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const why = reason instanceof Error ? reason.message : 'aborted';
    return new ProviderError('timeout', `${provider}: ${doing}: aborted (${why})`, { cause: err });
  }
  return new ProviderError('provider_error', `${provider}: ${doing}: ${describe(err)}`, { retryable: true, cause: err });
}

/** The model answered, but not in the shape its API promises: another attempt may do better. */
export function malformed(provider: string, what: string, cause?: unknown): ProviderError {
  return new ProviderError('provider_error', `${provider}: malformed response: ${what}`, { retryable: true, cause, details: { provider, malformed: true } });
}

/** A stream that ended before its terminal event: partial output is never an answer. */
export function truncatedStream(provider: string, what: string, cause?: unknown): ProviderError {
  return new ProviderError('provider_error', `${provider}: truncated stream: ${what}`, { retryable: true, cause, details: { provider, truncated: true } });
}

/** Parses tool-call arguments: JSON text that must be an object ("" means no arguments). */
export function parseArguments(provider: string, tool: string, json: string): Record<string, unknown> {
  if (json.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw malformed(provider, `arguments of tool call "${tool}" are not valid JSON: ${JSON.stringify(json.slice(0, 200))}`, err);
  }
  if (!isRecord(parsed)) throw malformed(provider, `arguments of tool call "${tool}" are not a JSON object: ${JSON.stringify(json.slice(0, 200))}`);
  return parsed;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Node's fetch reports "fetch failed" and hides the reason (ECONNREFUSED, …) in `cause`. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  if (cause instanceof Error && cause.message && cause.message !== err.message) return `${err.message} (${cause.message})`;
  return err.message;
}

/** Joins a base URL and a path without doubling or dropping the slash. */
export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
