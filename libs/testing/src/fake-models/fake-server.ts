import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The common part of the fake model servers: a loopback HTTP server that
 * answers each request with the next scripted behaviour and logs what it got.
 * Wire formats live in fake-openai.server.ts and fake-anthropic.server.ts.
 */

export interface FakeToolCall {
  id?: string;
  name: string;
  /** An object is sent as JSON; a string is sent as is (to test invalid arguments). */
  arguments: Record<string, unknown> | string;
}

export type FakeBehaviour =
  | {
    kind: 'ok';
    content?: string;
    toolCalls?: FakeToolCall[];
    usage?: { inputTokens: number; outputTokens: number };
    /** Wire finish/stop reason; derived from the tool calls when omitted. */
    finishReason?: string;
    /** Wait before the first token (streams) or the whole answer. */
    delayMs?: number;
    /** OpenAI: log-probabilities of the content tokens, sent when the request asks for `logprobs` (one token per value). */
    logprobs?: number[];
  }
  | {
    kind: 'status';
    status: number;
    /** `Retry-After` header: seconds, or an HTTP date. */
    retryAfter?: number | string;
    /** `retry-after-ms` header (OpenAI's). */
    retryAfterMs?: number;
    message?: string;
  }
  /** Accepts the request and never answers (until the client gives up or the server closes). */
  | { kind: 'hang' }
  /** A 200 whose body (or a stream event) is not valid JSON. */
  | { kind: 'malformed' }
  /** Streams: stops mid-way without the terminal events. Otherwise: the connection drops mid-body. */
  | { kind: 'truncated' }
  /** Streams only: an error event inside a 200 stream (e.g. Anthropic's overloaded_error). */
  | { kind: 'stream_error'; errorType?: string; message?: string };

export interface LoggedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, or the raw text if it was not JSON. */
  body: unknown;
}

export interface FakeRequest extends LoggedRequest {
  /** The request asked for a stream (`"stream": true`). */
  stream: boolean;
}

export abstract class FakeModelServer {
  readonly requests: LoggedRequest[] = [];
  private readonly queue: FakeBehaviour[] = [];
  private readonly server: Server;
  private port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake server error: ${err instanceof Error ? err.message : String(err)}`);
      });
    });
  }

  /** Origin, e.g. `http://127.0.0.1:41234`. */
  get origin(): string {
    if (this.port === 0) throw new Error('the fake server is not listening: await start() first');
    return `http://127.0.0.1:${this.port}`;
  }

  /** What a provider's `baseUrl` should be for this server. */
  abstract get baseUrl(): string;

  /** Adds behaviours for the next requests, in order. */
  enqueue(...behaviours: FakeBehaviour[]): this {
    this.queue.push(...behaviours);
    return this;
  }

  /** Behaviours not used yet (a test can assert that all were consumed). */
  get pending(): number {
    return this.queue.length;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Closes the server, cutting hung requests. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  protected abstract respond(behaviour: FakeBehaviour, req: FakeRequest, res: ServerResponse): Promise<void>;

  /** Routes a wire format answers without a scripted behaviour (e.g. batch files); true when it answered. */
  protected intercept(_req: LoggedRequest, _rawBody: string, _res: ServerResponse): Promise<boolean> {
    return Promise.resolve(false);
  }

  /** Takes the next scripted behaviour (for answers built outside a request, e.g. batch output lines). */
  protected nextBehaviour(): FakeBehaviour | undefined {
    return this.queue.shift();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req);
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // logged raw
    }
    const logged: LoggedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body };
    this.requests.push(logged);
    if (await this.intercept(logged, text, res)) return;
    const behaviour = this.queue.shift();
    if (behaviour === undefined) {
      // Loud, and not retryable, so a test with too few behaviours fails at once.
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'fake_server', message: 'fake server: no scripted behaviour left for this request' } }));
      return;
    }
    const stream = typeof body === 'object' && body !== null && 'stream' in body && body.stream === true;
    if (behaviour.kind === 'hang') return; // keep the socket open, answer nothing
    if (behaviour.kind === 'status') {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (behaviour.retryAfter !== undefined) headers['retry-after'] = String(behaviour.retryAfter);
      if (behaviour.retryAfterMs !== undefined) headers['retry-after-ms'] = String(behaviour.retryAfterMs);
      res.writeHead(behaviour.status, headers);
      res.end(JSON.stringify(this.errorBody(behaviour.status, behaviour.message ?? `fake HTTP ${behaviour.status}`)));
      return;
    }
    if (behaviour.kind === 'malformed' && !stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id": "fake", "choices": [ {"message": ');
      return;
    }
    if (behaviour.kind === 'truncated' && !stream) {
      // Promise a longer body than is sent, then drop the connection.
      const partial = '{"id": "fake", "content": [';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(partial.length + 100) });
      res.write(partial, () => res.socket?.destroy());
      return;
    }
    await this.respond(behaviour, { ...logged, stream }, res);
  }

  /** The error body of this wire format for an HTTP status. */
  protected abstract errorBody(status: number, message: string): unknown;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes one SSE event and waits until it is flushed, so the client sees deltas one at a time. */
export function writeSse(res: ServerResponse, data: string, event?: string): Promise<void> {
  const text = `${event === undefined ? '' : `event: ${event}\n`}data: ${data}\n\n`;
  return new Promise((resolve) => res.write(text, () => resolve()));
}

/** Splits text into up to `parts` pieces, so streams carry several deltas. */
export function pieces(text: string, parts = 3): string[] {
  if (text === '') return [];
  const size = Math.max(1, Math.ceil(text.length / parts));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

export function argumentsText(call: FakeToolCall): string {
  return typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
}
