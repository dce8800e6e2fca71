import { NodeSDK } from '@opentelemetry/sdk-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span } from '@opentelemetry/api';

/**
 * OpenTelemetry for a Keel service. Everything about export comes from the
 * standard OTEL_* variables (NodeSDK reads them): OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by default, http/json),
 * OTEL_TRACES_EXPORTER (otlp|console|none), OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED. Call it before anything else.
 */
let sdk: NodeSDK | undefined;

export function startTelemetry(serviceName: string, version = '0.1.0'): void {
  if (sdk || process.env.OTEL_SDK_DISABLED === 'true') return;
  sdk = new NodeSDK({
    // OTEL_SERVICE_NAME, when set, wins over this default (env detector runs after).
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName, [ATTR_SERVICE_VERSION]: version }),
    instrumentations: [],
  });
  sdk.start();
}

/** Flushes pending spans; called on SIGTERM so the last spans are not lost. */
export async function shutdownTelemetry(): Promise<void> {
  const s = sdk;
  sdk = undefined;
  await s?.shutdown().catch(() => undefined);
}

export const tracer = () => trace.getTracer('keel');

/** Runs fn inside a new active span; records exceptions and sets the status. */
export async function withSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

export interface HeaderCarrier {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

/** Writes the active (or given) context as W3C `traceparent`/`tracestate`. */
export function injectContext(carrier: HeaderCarrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, carrier, { set: (c, k, v) => c.set(k, v) });
}

export function extractContext(carrier: HeaderCarrier): Context {
  return propagation.extract(context.active(), carrier, {
    get: (c, k) => c.get(k),
    keys: () => ['traceparent', 'tracestate', 'baggage'],
  });
}

/** The W3C traceparent of a context, for storing beside a task so later steps join its trace. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  const holder: Record<string, string> = {};
  propagation.inject(ctx, holder);
  return holder.traceparent;
}

export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  if (!traceparent) return context.active();
  return propagation.extract(context.active(), { traceparent });
}

export function currentTraceId(): string | undefined {
  const id = trace.getActiveSpan()?.spanContext().traceId;
  return id && id !== '00000000000000000000000000000000' ? id : undefined;
}

export { SpanKind, SpanStatusCode, context, trace };
export type { Span, Context, Attributes };
