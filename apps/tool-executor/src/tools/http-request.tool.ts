import { promises as dnsPromises } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { z } from 'zod';
import { KeelError, retryable } from '@keel/contracts';
import { EgressPolicy } from './egress.policy';
import type { Destination, ResolvedAddress } from './egress.policy';
import { parametersOf } from './tool.definition';
import type { Permission, ToolContext, ToolDefinition } from './tool.definition';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const MAX_RESPONSE_BYTES = 1024 * 1024;
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;
export const MAX_REDIRECTS = 5;
const MAX_URL_LENGTH = 8_192;
const MAX_HEADERS = 50;

/** Resolves a host name to every address it has; injectable so tests never touch real DNS. */
export type LookupFn = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface HttpRequestToolOptions {
  lookup?: LookupFn;
  maxResponseBytes?: number;
  maxRedirects?: number;
  userAgent?: string;
}

const defaultLookup: LookupFn = async (hostname) => dnsPromises.lookup(hostname, { all: true, verbatim: true });

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Framing and routing headers belong to the runtime; Idempotency-Key is Keel's to set. */
const RESERVED_HEADERS = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer',
  'expect', 'proxy-authorization', 'proxy-connection', 'idempotency-key',
]);
const READ_ONLY_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'HEAD', 'OPTIONS']);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Response headers worth showing the model; cookies and the like stay out of the transcript. */
const SAFE_RESPONSE_HEADERS = new Set([
  'content-type', 'content-length', 'content-language', 'content-disposition', 'cache-control', 'etag',
  'last-modified', 'expires', 'date', 'age', 'location', 'retry-after', 'allow', 'link', 'www-authenticate',
  'x-request-id', 'request-id', 'idempotency-key', 'idempotent-replayed',
]);
const SAFE_RESPONSE_HEADER_PREFIXES = ['ratelimit-', 'x-ratelimit-'];
/** Header names that carry credentials; not forwarded to another origin on redirect. */
const CREDENTIAL_HEADER = /^(authorization|cookie)$|auth|token|secret|session|api-?key|password/i;
const BINARY_TYPE = /^(?:image\/(?!svg)|audio\/|video\/|font\/|application\/(?:octet-stream|pdf|zip|gzip|x-gzip|x-tar|x-7z-compressed|wasm|x-protobuf|protobuf|vnd\.ms-excel|msword))/i;
const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\b|^application\/x-ndjson\b/i;
const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
]);

const HeadersSchema = z.record(
  z.string(),
  z.string().max(8_192, 'header value is longer than 8192 characters')
    .refine((v) => !/[\r\n\0]/.test(v), 'header values cannot contain line breaks or NUL'),
).superRefine((headers, ctx) => {
  const names = Object.keys(headers);
  if (names.length > MAX_HEADERS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_HEADERS} headers` });
  for (const name of names) {
    if (!HEADER_NAME.test(name)) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'not a valid HTTP header name' });
    } else if (RESERVED_HEADERS.has(name.toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'this header is set by the runtime; remove it' });
    }
  }
});

export const HttpRequestArgsSchema = z.strictObject({
  method: z.enum(HTTP_METHODS).describe('HTTP method, upper case.'),
  url: z.url().max(MAX_URL_LENGTH).describe('Absolute http:// or https:// URL. The host must be on the agent\'s egress allowlist.'),
  headers: HeadersSchema.optional().describe('Request headers, e.g. {"Accept": "application/json"}.'),
  body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional()
    .describe('Request body: a string, or a JSON object/array (sent as application/json). Not allowed with GET or HEAD.'),
}).superRefine((args, ctx) => {
  let url: URL;
  try {
    url = new URL(args.url);
  } catch {
    return; // z.url() already reported it
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', path: ['url'], message: `only http and https URLs are allowed, not "${url.protocol}"` });
  }
  if (url.username || url.password) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'credentials in the URL are not allowed; send an Authorization header instead' });
  }
  if (args.body !== undefined && (args.method === 'GET' || args.method === 'HEAD')) {
    ctx.addIssue({ code: 'custom', path: ['body'], message: `${args.method} requests cannot have a body` });
  }
  if (args.body !== undefined && encodeBody(args.body).bytes.length > MAX_REQUEST_BODY_BYTES) {
    ctx.addIssue({ code: 'custom', path: ['body'], message: `body is larger than ${MAX_REQUEST_BODY_BYTES} bytes` });
  }
});
export type HttpRequestArgs = z.infer<typeof HttpRequestArgsSchema>;

export interface HttpResponseResult {
  status: number;
  statusText: string;
  /** Final URL after redirects. */
  url: string;
  redirects: number;
  headers: Record<string, string>;
  /** Text, parsed JSON when the content type is JSON, or null when binary content was omitted. */
  body: unknown;
  truncated: boolean;
  /** Body bytes received (after decompression, up to the cap). */
  bytes: number;
  bodyOmitted?: string;
}

interface EncodedBody {
  bytes: Buffer;
  contentType: string;
}

function encodeBody(body: string | Record<string, unknown> | unknown[]): EncodedBody {
  if (typeof body === 'string') return { bytes: Buffer.from(body, 'utf8'), contentType: 'text/plain; charset=utf-8' };
  return { bytes: Buffer.from(JSON.stringify(body), 'utf8'), contentType: 'application/json' };
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

function dropHeaders(headers: Record<string, string>, drop: (lowerName: string) => boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !drop(k.toLowerCase())));
}

function toolError(message: string, cause?: unknown): KeelError {
  return new KeelError('tool_error', `http_request: ${message}`, { cause });
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A readable failure for the model; transient ones are marked retryable. */
function networkError(err: unknown, url: URL): KeelError {
  if (err instanceof KeelError) return err;
  const code = errorCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  const where = url.host;
  if (code === 'ENOTFOUND') return toolError(`could not resolve host ${url.hostname}`, err);
  if (code === 'ECONNREFUSED') return retryable('tool_error', `http_request: connection refused by ${where}`, { cause: err });
  if (code === 'ECONNRESET') return retryable('tool_error', `http_request: connection reset by ${where} (${detail})`, { cause: err });
  if (code && RETRYABLE_CODES.has(code)) return retryable('tool_error', `http_request: network error talking to ${where}: ${code}`, { cause: err });
  if (code?.startsWith('Z_')) return toolError(`could not decode the compressed response from ${where}: ${detail}`, err);
  if (code?.startsWith('HPE_')) return toolError(`${where} sent an invalid HTTP response (${code})`, err);
  if (code && /CERT|SSL|TLS/.test(code)) return toolError(`TLS check failed for ${where}: ${detail}`, err);
  return toolError(`request to ${where} failed: ${detail}`, err);
}

function decoderFor(encoding: string | undefined): Transform | undefined | 'unsupported' {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === '' || e === 'identity') return undefined;
  if (e === 'gzip' || e === 'x-gzip') return createGunzip();
  if (e === 'deflate') return createInflate();
  if (e === 'br') return createBrotliDecompress();
  return 'unsupported';
}

/** Reads at most `max` (decoded) bytes; stops the transfer as soon as the cap is hit. */
async function readCapped(res: IncomingMessage, max: number, decoder: Transform | undefined): Promise<{ data: Buffer; truncated: boolean }> {
  // pipeline wires errors and teardown both ways; failures surface through the iterator.
  const source: Readable = decoder ? pipeline(res, decoder, () => undefined) : res;
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of source) {
      const buf = chunk as Buffer;
      if (size + buf.length > max) {
        chunks.push(buf.subarray(0, max - size));
        size = max;
        truncated = true;
        break;
      }
      chunks.push(buf);
      size += buf.length;
    }
  } finally {
    if (truncated) res.destroy();
  }
  return { data: Buffer.concat(chunks, size), truncated };
}

function safeHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    const safe = SAFE_RESPONSE_HEADERS.has(name) || SAFE_RESPONSE_HEADER_PREFIXES.some((p) => name.startsWith(p));
    if (safe) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function decodeText(data: Buffer, contentType: string): string {
  const charset = /charset\s*=\s*"?([\w.:-]+)"?/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(data);
  } catch {
    return new TextDecoder('utf-8').decode(data); // unknown charset label
  }
}

/** One deadline for the whole call (all redirects and the body), also tripped by the caller's signal. */
class Deadline {
  readonly controller = new AbortController();
  timedOut = false;
  private readonly timer: NodeJS.Timeout;
  private readonly onCallerAbort = (): void => this.controller.abort(this.caller.reason);

  constructor(private readonly caller: AbortSignal, readonly timeoutMs: number) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    if (caller.aborted) this.controller.abort(caller.reason);
    else caller.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  error(url: URL): KeelError {
    return this.timedOut
      ? retryable('tool_error', `http_request: ${url.host} did not answer within ${this.timeoutMs} ms (timed out)`)
      : retryable('tool_error', 'http_request: cancelled because the caller\'s deadline passed');
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller.removeEventListener('abort', this.onCallerAbort);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export function httpRequestTool(options: HttpRequestToolOptions = {}): ToolDefinition<HttpRequestArgs> {
  const resolve = options.lookup ?? defaultLookup;
  const maxBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
  const userAgent = options.userAgent ?? 'keel-http-request/1';

  /**
   * The socket's own DNS step: resolve once, check every address, hand exactly
   * those to the connect. No second resolution, so a rebinding answer cannot
   * slip in between the check and the connection.
   */
  function checkedLookup(policy: EgressPolicy, dest: Destination, defaultPort: number) {
    return (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void => {
      resolve(hostname).then((addresses) => {
        policy.checkAddresses(dest, defaultPort, addresses);
        const family = lookupOptions.family;
        const usable = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : [...addresses];
        if (usable.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`no IPv${String(family)} address for ${hostname}`);
          err.code = 'ENOTFOUND';
          callback(err, '', 0);
        } else if (lookupOptions.all) {
          callback(null, usable.map((a) => ({ address: a.address, family: a.family })));
        } else {
          callback(null, usable[0].address, usable[0].family);
        }
      }).catch((err: unknown) => {
        callback(err instanceof Error ? err : new Error(String(err)), '', 0);
      });
    };
  }

  function send(
    url: URL, method: HttpMethod, headers: OutgoingHttpHeaders, body: Buffer | undefined,
    policy: EgressPolicy, dest: Destination, signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const https = url.protocol === 'https:';
    const requestOptions: RequestOptions = {
      method,
      headers,
      signal,
      // No pooling: a pooled socket would skip the lookup check, and pools are shared across agents' allowlists.
      agent: false,
      lookup: checkedLookup(policy, dest, https ? 443 : 80),
    };
    return new Promise<IncomingMessage>((resolvePromise, reject) => {
      const req = (https ? httpsRequest : httpRequest)(url, requestOptions, resolvePromise);
      req.on('error', reject);
      req.end(body);
    });
  }

  async function execute(args: HttpRequestArgs, ctx: ToolContext): Promise<HttpResponseResult> {
    const policy = new EgressPolicy(ctx.allow);
    let url = new URL(args.url);
    const deadline = new Deadline(ctx.signal, ctx.timeoutMs);
    let method: HttpMethod = args.method;
    let body: Buffer | undefined;
    let headers: Record<string, string> = dropHeaders(args.headers ?? {}, (n) => n === 'accept-encoding');
    if (args.body !== undefined) {
      const encoded = encodeBody(args.body);
      body = encoded.bytes;
      if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = encoded.contentType;
    }
    if (!hasHeader(headers, 'user-agent')) headers['User-Agent'] = userAgent;

    try {
      for (let redirects = 0; ; redirects++) {
        if (deadline.signal.aborted) throw deadline.error(url);
        const dest = policy.checkUrl(url);
        const outgoing: OutgoingHttpHeaders = {
          ...headers,
          'Idempotency-Key': ctx.idempotencyKey,
          'Accept-Encoding': 'gzip, deflate, br',
          ...(body ? { 'Content-Length': body.length } : {}),
        };
        const res = await send(url, method, outgoing, body, policy, dest, deadline.signal);
        const status = res.statusCode ?? 0;
        const location = res.headers.location;

        if (REDIRECT_STATUSES.has(status) && location) {
          res.destroy();
          if (redirects >= maxRedirects) throw toolError(`stopped after ${maxRedirects} redirects (last: ${status} to ${location})`);
          let next: URL;
          try {
            next = new URL(location, url);
          } catch (err) {
            throw toolError(`${url.host} redirected to an invalid Location "${location}"`, err);
          }
          // As browsers do: 303 always, and 301/302 after POST, become a GET without a body.
          if ((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
            method = 'GET';
            body = undefined;
            headers = dropHeaders(headers, (n) => n.startsWith('content-'));
          }
          if (next.origin !== url.origin) headers = dropHeaders(headers, (n) => n !== 'idempotency-key' && CREDENTIAL_HEADER.test(n));
          url = next;
          continue;
        }

        const contentType = res.headers['content-type'] ?? '';
        const decoder = decoderFor(res.headers['content-encoding']);
        const result: HttpResponseResult = {
          status,
          statusText: res.statusMessage ?? '',
          url: url.href,
          redirects,
          headers: safeHeaders(res),
          body: '',
          truncated: false,
          bytes: 0,
        };
        if (decoder === 'unsupported' || BINARY_TYPE.test(contentType)) {
          // Bytes the model cannot read only cost tokens: report what they are instead.
          res.destroy();
          result.body = null;
          const what = decoder === 'unsupported' ? `content-encoding ${String(res.headers['content-encoding'])}` : contentType;
          result.bodyOmitted = `binary response body (${what}) not returned`;
          return result;
        }
        const { data, truncated } = await readCapped(res, maxBytes, decoder);
        const text = decodeText(data, contentType);
        result.truncated = truncated;
        result.bytes = data.length;
        result.body = text;
        if (!truncated && text.trim() !== '' && JSON_TYPE.test(contentType)) {
          try {
            result.body = JSON.parse(text) as unknown;
          } catch {
            // Mislabelled JSON: the text is still useful.
          }
        }
        return result;
      }
    } catch (err) {
      if (err instanceof KeelError) throw err;
      if (deadline.signal.aborted) throw deadline.error(url);
      throw networkError(err, url);
    } finally {
      deadline.dispose();
    }
  }

  return {
    name: 'http_request',
    description:
      'Sends an HTTP request to an allowed host and returns {status, headers, body, truncated}. JSON responses are parsed; ' +
      `bodies over ${Math.round(maxBytes / 1024)} KiB are truncated. 4xx/5xx statuses are returned, not raised. ` +
      'Only hosts on the agent\'s egress allowlist can be reached.',
    argsSchema: HttpRequestArgsSchema,
    parameters: parametersOf(HttpRequestArgsSchema),
    permission: 'destructive',
    // As @keel/policy's effectOf: GET/HEAD/OPTIONS read, DELETE destroys, anything else writes.
    permissionFor: (args: HttpRequestArgs): Permission => (READ_ONLY_METHODS.has(args.method) ? 'read' : args.method === 'DELETE' ? 'destructive' : 'write'),
    defaultRisk: 'review',
    idempotency: 'idempotent_by_key',
    source: 'builtin',
    execute,
  };
}
