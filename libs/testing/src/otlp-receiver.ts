// A local OTLP/HTTP trace receiver for tests: services export to it like they
// would to Jaeger, and the test asserts on what arrived (one task = one trace
// across services). It accepts OTLP/JSON and OTLP/protobuf; the protobuf side is
// decoded by a small hand-written wire-format reader limited to the trace
// messages, so the receiver needs no dependency beyond Node itself.
import { createServer } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  serviceName: string;
  /** OTLP numbering (the API's SpanKind + 1): 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind?: number;
  attributes: Record<string, unknown>;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status?: { code: number; message?: string };
  scopeName?: string;
  resourceAttributes: Record<string, unknown>;
}

export interface OtlpReceiver {
  /** Base URL, e.g. http://127.0.0.1:PORT; exporters post to `${url}/v1/traces`. */
  url: string;
  spans: ReceivedSpan[];
  spansOfTrace(traceId: string): ReceivedSpan[];
  servicesOfTrace(traceId: string): Set<string>;
  /** Resolves once pred holds over all spans received so far; rejects after timeoutMs. */
  waitFor(pred: (spans: ReceivedSpan[]) => boolean, timeoutMs: number): Promise<void>;
  /** Forgets received spans (between tests sharing one receiver). */
  clear(): void;
  close(): Promise<void>;
}

// Bodies above this are refused: a test receiver should fail loudly, not buffer forever.
const MAX_BODY_BYTES = 32 * 1024 * 1024;
const KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  // Called after every accepted export so waitFor re-checks without polling.
  const listeners = new Set<() => void>();

  const server = createServer((req, res) => {
    handle(req, res, spans, listeners).catch((err: unknown) => {
      reply(res, 500, 'application/json', JSON.stringify({ error: errorMessage(err) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    spansOfTrace: (traceId) => spans.filter((s) => s.traceId === traceId.toLowerCase()),
    servicesOfTrace: (traceId) =>
      new Set(spans.filter((s) => s.traceId === traceId.toLowerCase()).map((s) => s.serviceName)),
    waitFor: (pred, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = (): boolean => {
          let ok: boolean;
          try {
            ok = pred(spans);
          } catch (err) {
            finish();
            reject(err instanceof Error ? err : new Error(String(err)));
            return true;
          }
          if (ok) {
            finish();
            resolve();
          }
          return ok;
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`OTLP receiver: condition not met within ${timeoutMs} ms; received ${describe(spans)}`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        if (!check()) listeners.add(check);
      }),
    clear: () => {
      spans.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Exporters keep connections alive; without this close() would wait for them to idle out.
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  spans: ReceivedSpan[],
  listeners: Set<() => void>,
): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  if (req.method !== 'POST' || !['/v1/traces', '/v1/metrics', '/v1/logs'].includes(path)) {
    reply(res, 404, 'application/json', JSON.stringify({ error: `no route for ${req.method} ${path}` }));
    return;
  }
  const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const isProto = contentType === 'application/x-protobuf' || contentType === 'application/protobuf';
  if (!isProto && contentType !== 'application/json') {
    reply(res, 415, 'application/json', JSON.stringify({ error: `unsupported content-type ${contentType}` }));
    return;
  }
  let received: ReceivedSpan[] = [];
  try {
    const body = decompress(await readBody(req), req.headers['content-encoding']);
    // Services may also export metrics or logs here; those are accepted and dropped.
    if (path === '/v1/traces') {
      received = isProto ? decodeProtobufRequest(body) : decodeJsonRequest(body);
    }
  } catch (err) {
    reply(res, 400, 'application/json', JSON.stringify({ error: `bad OTLP request: ${errorMessage(err)}` }));
    return;
  }
  spans.push(...received);
  // The proto exporter parses the reply as protobuf: an empty message is zero bytes, not "{}".
  if (isProto) reply(res, 200, 'application/x-protobuf', '');
  else reply(res, 200, 'application/json', '{}');
  for (const listener of [...listeners]) listener();
}

function reply(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// OTEL_EXPORTER_OTLP_COMPRESSION=gzip makes exporters send compressed bodies.
function decompress(body: Buffer, encoding: string | undefined): Buffer {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  if (enc === 'gzip') return gunzipSync(body);
  if (enc === 'deflate') return inflateSync(body);
  throw new Error(`unsupported content-encoding ${enc}`);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function describe(spans: ReceivedSpan[]): string {
  if (spans.length === 0) return 'no spans';
  const shown = spans.slice(0, 50).map((s) => `${s.serviceName}:${s.name}@${s.traceId.slice(0, 8)}`);
  return `${spans.length} span(s): ${shown.join(', ')}${spans.length > 50 ? ', ...' : ''}`;
}

// ---------------------------------------------------------------- OTLP/JSON

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function records(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return undefined;
}

// OTLP/JSON ids are hex per the spec; base64 (protobuf's default JSON mapping) is tolerated.
function jsonId(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  if (/^[0-9a-fA-F]+$/.test(v) && (v.length === 32 || v.length === 16)) return v.toLowerCase();
  const bytes = Buffer.from(v, 'base64');
  return bytes.length > 0 ? bytes.toString('hex') : undefined;
}

function jsonEnum(v: unknown, names: Record<string, number>): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return names[v] ?? (Number.isInteger(Number(v)) ? Number(v) : undefined);
  return undefined;
}

function jsonIntValue(v: unknown): number | string | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  if (Number.isSafeInteger(n)) return n;
  // int64 beyond 2^53 stays a decimal string rather than losing precision.
  return typeof v === 'string' ? v : undefined;
}

function jsonAnyValue(v: unknown): unknown {
  if (!isRecord(v)) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return jsonIntValue(v.intValue);
  if ('doubleValue' in v) return typeof v.doubleValue === 'string' ? Number(v.doubleValue) : v.doubleValue;
  if ('bytesValue' in v) return v.bytesValue; // base64 text, as in OTLP/JSON
  if ('arrayValue' in v) {
    const arr = isRecord(v.arrayValue) ? v.arrayValue.values : undefined;
    return Array.isArray(arr) ? arr.map(jsonAnyValue) : [];
  }
  if ('kvlistValue' in v) return jsonAttributes(isRecord(v.kvlistValue) ? v.kvlistValue.values : undefined);
  return undefined;
}

function jsonAttributes(v: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of records(v)) {
    if (typeof kv.key === 'string') out[kv.key] = jsonAnyValue(kv.value);
  }
  return out;
}

export function decodeJsonRequest(body: Buffer): ReceivedSpan[] {
  const parsed: unknown = JSON.parse(body.toString('utf8'));
  if (!isRecord(parsed)) throw new Error('body is not a JSON object');
  const out: ReceivedSpan[] = [];
  for (const rs of records(parsed.resourceSpans)) {
    const resourceAttributes = jsonAttributes(isRecord(rs.resource) ? rs.resource.attributes : undefined);
    const serviceName = serviceNameOf(resourceAttributes);
    for (const ss of records(rs.scopeSpans)) {
      const scopeName = isRecord(ss.scope) ? str(ss.scope.name) : undefined;
      for (const s of records(ss.spans)) {
        const traceId = jsonId(s.traceId);
        const spanId = jsonId(s.spanId);
        if (!traceId || !spanId) throw new Error('span without traceId or spanId');
        const status = isRecord(s.status)
          ? { code: jsonEnum(s.status.code, STATUS_CODES) ?? 0, message: str(s.status.message) || undefined }
          : undefined;
        out.push({
          traceId,
          spanId,
          parentSpanId: jsonId(s.parentSpanId),
          name: str(s.name) ?? '',
          serviceName,
          kind: jsonEnum(s.kind, KINDS) ?? 0,
          attributes: jsonAttributes(s.attributes),
          startTimeUnixNano: str(s.startTimeUnixNano) ?? '0',
          endTimeUnixNano: str(s.endTimeUnixNano) ?? '0',
          status,
          scopeName,
          resourceAttributes,
        });
      }
    }
  }
  return out;
}

function serviceNameOf(attrs: Record<string, unknown>): string {
  const name = attrs['service.name'];
  return typeof name === 'string' && name !== '' ? name : 'unknown_service';
}

// ----------------------------------------------------------- OTLP/protobuf
// Field numbers from opentelemetry-proto (collector/trace/v1, trace/v1,
// resource/v1, common/v1). Unknown fields are skipped by wire type, so newer
// senders that add fields still decode.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

class ProtoReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new Error('varint too long');
  }

  tag(): { field: number; wire: number } {
    const t = Number(this.varint());
    return { field: t >>> 3, wire: t & 7 };
  }

  fixed64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  bytes(): Uint8Array {
    const len = Number(this.varint());
    this.need(len);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_FIXED64) this.advance(8);
    else if (wire === WIRE_LEN) this.bytes();
    else if (wire === WIRE_FIXED32) this.advance(4);
    else throw new Error(`unsupported wire type ${wire}`);
  }

  private advance(n: number): void {
    this.need(n);
    this.pos += n;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Error('truncated message');
  }
}

// Visits each field of one message; the callback returns false for fields it does not read.
function fields(buf: Uint8Array, visit: (field: number, wire: number, r: ProtoReader) => boolean): void {
  const r = new ProtoReader(buf);
  while (!r.done) {
    const { field, wire } = r.tag();
    if (!visit(field, wire, r)) r.skip(wire);
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function int64Value(v: bigint): number | string {
  const signed = BigInt.asIntN(64, v);
  const n = Number(signed);
  return Number.isSafeInteger(n) ? n : signed.toString();
}

function protoAnyValue(buf: Uint8Array): unknown {
  let value: unknown;
  fields(buf, (field, wire, r) => {
    if (field === 1 && wire === WIRE_LEN) value = r.string();
    else if (field === 2 && wire === WIRE_VARINT) value = r.varint() !== 0n;
    else if (field === 3 && wire === WIRE_VARINT) value = int64Value(r.varint());
    else if (field === 4 && wire === WIRE_FIXED64) value = r.double();
    else if (field === 5 && wire === WIRE_LEN) {
      const values: unknown[] = [];
      fields(r.bytes(), (f, w, rr) => {
        if (f !== 1 || w !== WIRE_LEN) return false;
        values.push(protoAnyValue(rr.bytes()));
        return true;
      });
      value = values;
    } else if (field === 6 && wire === WIRE_LEN) {
      const list: Record<string, unknown> = {};
      fields(r.bytes(), (f, w, rr) => {
        if (f !== 1 || w !== WIRE_LEN) return false;
        protoKeyValue(rr.bytes(), list);
        return true;
      });
      value = list;
    } else if (field === 7 && wire === WIRE_LEN) value = Buffer.from(r.bytes()).toString('base64');
    else return false;
    return true;
  });
  return value;
}

function protoKeyValue(buf: Uint8Array, into: Record<string, unknown>): void {
  let key = '';
  let value: unknown;
  fields(buf, (field, wire, r) => {
    if (field === 1 && wire === WIRE_LEN) key = r.string();
    else if (field === 2 && wire === WIRE_LEN) value = protoAnyValue(r.bytes());
    else return false;
    return true;
  });
  into[key] = value;
}

function protoSpan(buf: Uint8Array, serviceName: string, scopeName: string | undefined, resourceAttributes: Record<string, unknown>): ReceivedSpan {
  const span: ReceivedSpan = {
    traceId: '',
    spanId: '',
    name: '',
    serviceName,
    kind: 0, // proto3 omits zero values: absent means SPAN_KIND_UNSPECIFIED
    attributes: {},
    startTimeUnixNano: '0',
    endTimeUnixNano: '0',
    scopeName,
    resourceAttributes,
  };
  fields(buf, (field, wire, r) => {
    if (field === 1 && wire === WIRE_LEN) span.traceId = hex(r.bytes());
    else if (field === 2 && wire === WIRE_LEN) span.spanId = hex(r.bytes());
    else if (field === 4 && wire === WIRE_LEN) {
      const parent = r.bytes();
      if (parent.length > 0) span.parentSpanId = hex(parent);
    } else if (field === 5 && wire === WIRE_LEN) span.name = r.string();
    else if (field === 6 && wire === WIRE_VARINT) span.kind = Number(r.varint());
    else if (field === 7 && wire === WIRE_FIXED64) span.startTimeUnixNano = r.fixed64().toString();
    else if (field === 8 && wire === WIRE_FIXED64) span.endTimeUnixNano = r.fixed64().toString();
    else if (field === 9 && wire === WIRE_LEN) protoKeyValue(r.bytes(), span.attributes);
    else if (field === 15 && wire === WIRE_LEN) {
      const status: { code: number; message?: string } = { code: 0 };
      fields(r.bytes(), (f, w, rr) => {
        if (f === 2 && w === WIRE_LEN) status.message = rr.string() || undefined;
        else if (f === 3 && w === WIRE_VARINT) status.code = Number(rr.varint());
        else return false;
        return true;
      });
      span.status = status;
    } else return false;
    return true;
  });
  if (!span.traceId || !span.spanId) throw new Error('span without trace_id or span_id');
  return span;
}

export function decodeProtobufRequest(body: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
  fields(body, (field, wire, r) => {
    if (field !== 1 || wire !== WIRE_LEN) return false;
    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
    // Fields may arrive in any order, so scope spans are decoded once the resource is known.
    const resourceAttributes: Record<string, unknown> = {};
    const scopeBufs: Uint8Array[] = [];
    fields(r.bytes(), (f, w, rr) => {
      if (f === 1 && w === WIRE_LEN) {
        fields(rr.bytes(), (rf, rw, rrr) => {
          if (rf !== 1 || rw !== WIRE_LEN) return false;
          protoKeyValue(rrr.bytes(), resourceAttributes);
          return true;
        });
      } else if (f === 2 && w === WIRE_LEN) scopeBufs.push(rr.bytes());
      else return false;
      return true;
    });
    const serviceName = serviceNameOf(resourceAttributes);
    for (const scopeBuf of scopeBufs) {
      // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
      let scopeName: string | undefined;
      const spanBufs: Uint8Array[] = [];
      fields(scopeBuf, (f, w, rr) => {
        if (f === 1 && w === WIRE_LEN) {
          fields(rr.bytes(), (sf, sw, rrr) => {
            if (sf !== 1 || sw !== WIRE_LEN) return false;
            scopeName = rrr.string();
            return true;
          });
        } else if (f === 2 && w === WIRE_LEN) spanBufs.push(rr.bytes());
        else return false;
        return true;
      });
      for (const spanBuf of spanBufs) out.push(protoSpan(spanBuf, serviceName, scopeName, resourceAttributes));
    }
    return true;
  });
  return out;
}
