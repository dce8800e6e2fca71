import pino from 'pino';
import type { Logger, LoggerOptions } from 'pino';
import { trace } from '@opentelemetry/api';

/**
 * pino JSON logs on stdout. Every line carries the service, the replica, and
 * the active trace_id/span_id so a log line leads to its trace in Jaeger;
 * callers add task_id and tenant with child loggers. Credentials are redacted
 * by key wherever they appear in a logged object.
 */
export const REDACT_PATHS = [
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'apiKey', '*.apiKey', 'key', '*.key', 'password', '*.password', 'secret', '*.secret', 'token', '*.token',
];

export function createLogger(service: string, options: { level?: string; instance?: string } = {}, destination?: pino.DestinationStream): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service, instance: options.instance ?? '0' },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    mixin() {
      const ctx = trace.getActiveSpan()?.spanContext();
      return ctx && ctx.traceId !== '00000000000000000000000000000000' ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label, number) => ({ level: number, level_name: label }) },
  };
  return destination ? pino(opts, destination) : pino(opts);
}

export type { Logger };
