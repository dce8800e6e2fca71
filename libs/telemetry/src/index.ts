export {
  startTelemetry, shutdownTelemetry, tracer, withSpan, injectContext, extractContext, traceparentOf,
  contextFromTraceparent, currentTraceId, SpanKind, SpanStatusCode, context, trace,
} from './tracing';
export type { HeaderCarrier, Span, Context, Attributes } from './tracing';
export { createLogger, REDACT_PATHS } from './logger';
export type { Logger } from './logger';
export { registry, initMetrics, counter, gauge, histogram } from './metrics';
