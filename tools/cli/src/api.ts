import type { SubmitTask, TaskView } from '@keel/contracts';
import type { CliConfig } from './config';
import { SseParser } from './sse';
import type { SseMessage } from './sse';

/** An error answer of the API: `{error: {code, message}}`, printed as `error <code>: <message>`. */
export class ApiError extends Error {
  constructor(readonly code: string, message: string, readonly status: number) {
    super(message);
    this.name = new.target.name;
  }
}

/** Keel could not be reached at all (nothing listening, DNS, timeout). */
export class ConnectError extends Error {
  constructor(readonly url: string, readonly reason: string) {
    super(`cannot reach Keel at ${url} (${reason})`);
    this.name = new.target.name;
  }
}

export function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused, ECONNREFUSED';
  if (typeof cause?.code === 'string') return cause.code;
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** Turns a non-2xx answer into an ApiError, keeping the server's code when it sent one. */
export function errorFromResponse(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const e = body.error;
    if (e && typeof e.code === 'string') {
      return new ApiError(e.code, typeof e.message === 'string' ? e.message : '', status);
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): fall through and show the start of it.
  }
  const snippet = text.trim().slice(0, 200);
  return new ApiError(`http_${status}`, snippet || `HTTP ${status}`, status);
}

export interface SubmitOptions {
  idempotencyKey?: string;
}

const REQUEST_TIMEOUT_MS = 30_000;
/** Tries of a rate-limited request, the first included. */
const RATE_LIMIT_ATTEMPTS = 6;
const MAX_RETRY_AFTER_MS = 10_000;

/** Retry-After (delay-seconds, or an HTTP date) as a wait in ms, with jitter so waiting clients do not return together; 1 s when absent. */
export function retryAfterMs(header: string | null, now = Date.now(), random = Math.random): number {
  let ms = 1_000;
  if (header !== null && /^\d+(\.\d+)?$/.test(header.trim())) ms = Number(header) * 1_000;
  else if (header !== null && !Number.isNaN(Date.parse(header))) ms = Math.max(0, Date.parse(header) - now);
  return Math.min(MAX_RETRY_AFTER_MS, ms) * (1 + random() * 0.25);
}

export class KeelClient {
  constructor(private readonly cfg: CliConfig) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.cfg.apiKey}`, accept: 'application/json', ...extra };
  }

  /**
   * One request; a 429 (rate limited: nothing was done) is sent again after
   * the server's Retry-After, a few times, as a polite client should. Other
   * statuses are the caller's.
   */
  private async fetch(path: string, init: RequestInit): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${this.cfg.url}${path}`, init);
      } catch (err) {
        throw new ConnectError(this.cfg.url, networkReason(err));
      }
      if (res.status !== 429 || attempt >= RATE_LIMIT_ATTEMPTS) return res;
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, retryAfterMs(res.headers.get('retry-after'))));
    }
  }

  private async json<T>(path: string, init: RequestInit): Promise<T> {
    const res = await this.fetch(path, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await res.text();
    if (!res.ok) throw errorFromResponse(res.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError('invalid_response', `expected JSON from ${path}, got: ${text.slice(0, 200)}`, res.status);
    }
  }

  submit(body: SubmitTask, opts: SubmitOptions = {}): Promise<{ id: string; status: string }> {
    const headers = this.headers({ 'content-type': 'application/json' });
    if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey;
    return this.json('/v1/tasks', { method: 'POST', headers, body: JSON.stringify(body) });
  }

  task(id: string): Promise<TaskView> {
    return this.json(`/v1/tasks/${encodeURIComponent(id)}`, { headers: this.headers() });
  }

  /** The raw SSE messages of `GET /v1/tasks/{id}/events`, until the server ends the stream. */
  async *events(id: string, lastEventId?: string): AsyncGenerator<SseMessage> {
    const headers = this.headers({ accept: 'text/event-stream' });
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const res = await this.fetch(`/v1/tasks/${encodeURIComponent(id)}/events`, { headers });
    if (!res.ok) throw errorFromResponse(res.status, await res.text());
    if (!res.body) return;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body) {
        yield* parser.push(decoder.decode(chunk as Uint8Array, { stream: true }));
      }
    } catch (err) {
      throw new ConnectError(this.cfg.url, `event stream broke: ${networkReason(err)}`);
    }
    yield* parser.push(decoder.decode());
  }
}
