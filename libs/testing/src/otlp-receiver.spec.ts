// Drives the receiver with real exports from the OpenTelemetry SDK, so the
// test proves compatibility with what Keel's services actually send. The SDK
// runs in a child node process, like a service would: the OTLP exporters load
// `http` with a dynamic import(), which Jest's CommonJS sandbox refuses without
// --experimental-vm-modules.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { startOtlpReceiver } from './otlp-receiver';
import type { OtlpReceiver } from './otlp-receiver';

const REPO_ROOT = resolve(__dirname, '../../..');

// Emits `task.run` (SERVER) with a child `tool.call` (CLIENT), or, given
// PARENT_TRACE_ID/PARENT_SPAN_ID, one span continuing a remote trace as a
// downstream service would after reading a traceparent header.
const EMITTER = `
const { SpanKind, context, diag, DiagLogLevel, trace, TraceFlags } = require('@opentelemetry/api');
// A failed export (or a reply the exporter cannot parse) is reported through diag: fail the run.
const fail = (...args) => { console.error(...args); process.exitCode = 1; };
diag.setLogger({ error: fail, warn: fail, info() {}, debug() {}, verbose() {} }, DiagLogLevel.WARN);
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = process.env.PROTOCOL === 'http/protobuf'
  ? require('@opentelemetry/exporter-trace-otlp-proto')
  : require('@opentelemetry/exporter-trace-otlp-http');
(async () => {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env.SERVICE_NAME, 'deployment.environment': 'test' }),
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: process.env.RECEIVER_URL + '/v1/traces' }))],
  });
  const tracer = provider.getTracer('keel-test', '1.0.0');
  let out;
  if (process.env.PARENT_TRACE_ID) {
    const remote = trace.setSpanContext(context.active(), {
      traceId: process.env.PARENT_TRACE_ID, spanId: process.env.PARENT_SPAN_ID, traceFlags: TraceFlags.SAMPLED, isRemote: true,
    });
    const span = tracer.startSpan('tool.execute', { kind: SpanKind.CONSUMER }, remote);
    span.end();
    out = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
  } else {
    const parent = tracer.startSpan('task.run', { kind: SpanKind.SERVER, attributes: { 'keel.task.id': 't-1' } });
    const child = tracer.startSpan('tool.call', {
      kind: SpanKind.CLIENT,
      attributes: { 'tool.name': 'calculator', attempt: 2, delta: -3, ratio: 0.5, cached: false, tags: ['a', 'b'], sizes: [1, 2] },
    }, trace.setSpan(context.active(), parent));
    child.end();
    parent.end();
    out = { traceId: parent.spanContext().traceId, parentId: parent.spanContext().spanId, childId: child.spanContext().spanId };
  }
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`;

interface Emitted {
  traceId: string;
  parentId: string;
  childId: string;
  spanId: string;
}

function emit(env: Record<string, string>): Promise<Emitted> {
  // The parent's OTEL_* settings must not redirect or alter the child's exports.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
  return new Promise((done, fail) => {
    execFile(process.execPath, ['-e', EMITTER], { cwd: REPO_ROOT, env: { ...base, ...env }, timeout: 20000 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`emitter failed: ${err.message}\n${stderr}`));
      else done(JSON.parse(stdout) as Emitted);
    });
  });
}

describe('startOtlpReceiver', () => {
  let receiver: OtlpReceiver;

  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });

  afterEach(async () => {
    await receiver.close();
  });

  it('listens on loopback with an ephemeral port', () => {
    expect(receiver.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it.each(['http/json', 'http/protobuf'])('receives a parent and child span over %s', async (protocol) => {
    const ids = await emit({ RECEIVER_URL: receiver.url, PROTOCOL: protocol, SERVICE_NAME: 'keel-orchestrator' });
    await receiver.waitFor((spans) => spans.length >= 2, 5000);

    const spans = receiver.spansOfTrace(ids.traceId);
    expect(spans).toHaveLength(2);
    const parent = spans.find((s) => s.name === 'task.run')!;
    const child = spans.find((s) => s.name === 'tool.call')!;

    expect(parent.traceId).toBe(ids.traceId);
    expect(parent.spanId).toBe(ids.parentId);
    expect(parent.parentSpanId).toBeUndefined();
    expect(parent.kind).toBe(2); // OTLP SPAN_KIND_SERVER
    expect(parent.attributes['keel.task.id']).toBe('t-1');

    expect(child.traceId).toBe(ids.traceId);
    expect(child.spanId).toBe(ids.childId);
    expect(child.parentSpanId).toBe(ids.parentId);
    expect(child.kind).toBe(3); // OTLP SPAN_KIND_CLIENT
    expect(child.attributes).toEqual({
      'tool.name': 'calculator',
      attempt: 2,
      delta: -3, // int64 two's complement on the protobuf wire
      ratio: 0.5,
      cached: false,
      tags: ['a', 'b'],
      sizes: [1, 2],
    });

    for (const s of spans) {
      expect(s.serviceName).toBe('keel-orchestrator');
      expect(s.resourceAttributes['deployment.environment']).toBe('test');
      expect(s.scopeName).toBe('keel-test');
      expect(BigInt(s.startTimeUnixNano)).toBeGreaterThan(0n);
      expect(BigInt(s.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(s.startTimeUnixNano));
    }
    expect(receiver.servicesOfTrace(ids.traceId)).toEqual(new Set(['keel-orchestrator']));
  });

  it('accepts gzip-compressed protobuf exports', async () => {
    const ids = await emit({
      RECEIVER_URL: receiver.url,
      PROTOCOL: 'http/protobuf',
      SERVICE_NAME: 'keel-router',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    });
    await receiver.waitFor((spans) => spans.length >= 2, 5000);
    const child = receiver.spansOfTrace(ids.traceId).find((s) => s.spanId === ids.childId);
    expect(child?.parentSpanId).toBe(ids.parentId);
    expect(child?.serviceName).toBe('keel-router');
  });

  it('groups one trace across services exporting with different protocols', async () => {
    const root = await emit({ RECEIVER_URL: receiver.url, PROTOCOL: 'http/json', SERVICE_NAME: 'keel-orchestrator' });
    const downstream = await emit({
      RECEIVER_URL: receiver.url,
      PROTOCOL: 'http/protobuf',
      SERVICE_NAME: 'keel-tool-executor',
      PARENT_TRACE_ID: root.traceId,
      PARENT_SPAN_ID: root.childId,
    });
    expect(downstream.traceId).toBe(root.traceId);

    await receiver.waitFor((spans) => spans.filter((s) => s.traceId === root.traceId).length === 3, 5000);
    expect(receiver.servicesOfTrace(root.traceId)).toEqual(new Set(['keel-orchestrator', 'keel-tool-executor']));
    const execute = receiver.spansOfTrace(root.traceId).find((s) => s.name === 'tool.execute');
    expect(execute?.parentSpanId).toBe(root.childId);
    expect(execute?.kind).toBe(5); // OTLP SPAN_KIND_CONSUMER
    // Trace ids are matched case-insensitively (W3C headers may be logged upper-case).
    expect(receiver.spansOfTrace(root.traceId.toUpperCase())).toHaveLength(3);
  });

  it('flattens every OTLP/JSON value type and tolerates enum names', async () => {
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
          scopeSpans: [
            {
              scope: { name: 'raw' },
              spans: [
                {
                  traceId: '0102030405060708090a0b0c0d0e0f10',
                  spanId: '0102030405060708',
                  parentSpanId: '',
                  name: 'raw-span',
                  kind: 'SPAN_KIND_PRODUCER',
                  startTimeUnixNano: '1700000000000000000',
                  endTimeUnixNano: 1700000000000001000,
                  status: { code: 'STATUS_CODE_ERROR', message: 'boom' },
                  attributes: [
                    { key: 's', value: { stringValue: 'x' } },
                    { key: 'i', value: { intValue: '42' } },
                    { key: 'big', value: { intValue: '9007199254740993' } },
                    { key: 'd', value: { doubleValue: 1.5 } },
                    { key: 'b', value: { boolValue: true } },
                    { key: 'arr', value: { arrayValue: { values: [{ intValue: 1 }, { stringValue: 'two' }] } } },
                    { key: 'kv', value: { kvlistValue: { values: [{ key: 'inner', value: { boolValue: false } }] } } },
                    { key: 'bytes', value: { bytesValue: 'AQI=' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${receiver.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    const [span] = receiver.spans;
    expect(span).toMatchObject({
      traceId: '0102030405060708090a0b0c0d0e0f10',
      spanId: '0102030405060708',
      parentSpanId: undefined,
      name: 'raw-span',
      serviceName: 'svc',
      kind: 4,
      startTimeUnixNano: '1700000000000000000',
      status: { code: 2, message: 'boom' },
      attributes: { s: 'x', i: 42, big: '9007199254740993', d: 1.5, b: true, arr: [1, 'two'], kv: { inner: false }, bytes: 'AQI=' },
    });
  });

  it('rejects bad requests with a useful status', async () => {
    const post = (path: string, contentType: string, body: string): Promise<Response> =>
      fetch(`${receiver.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
    expect((await post('/v1/other', 'application/json', '{}')).status).toBe(404);
    expect((await post('/v1/traces', 'text/plain', 'hi')).status).toBe(415);
    expect((await post('/v1/traces', 'application/json', '{not json')).status).toBe(400);
    expect((await post('/v1/traces', 'application/x-protobuf', '\u00ff\u00ff')).status).toBe(400);
    // Metrics and logs exports are accepted and dropped so exporters stay quiet.
    expect((await post('/v1/metrics', 'application/json', '{}')).status).toBe(200);
    expect(receiver.spans).toHaveLength(0);
  });

  it('waitFor times out with a summary, and clear() forgets spans', async () => {
    await emit({ RECEIVER_URL: receiver.url, PROTOCOL: 'http/json', SERVICE_NAME: 'keel-guardrail' });
    await expect(receiver.waitFor((spans) => spans.length > 5, 50)).rejects.toThrow(/keel-guardrail:task\.run/);
    receiver.clear();
    expect(receiver.spans).toHaveLength(0);
  });
});
