import { Writable } from 'node:stream';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createLogger } from './logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString())); cb(); } });
  return { lines, stream };
}

describe('createLogger', () => {
  it('adds service, instance and the active trace id, and redacts credentials', () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const provider = new BasicTracerProvider();
    const { lines, stream } = capture();
    const log = createLogger('router', { instance: '2' }, stream);
    const span = provider.getTracer('t').startSpan('s');
    context.with(trace.setSpan(context.active(), span), () => {
      log.child({ task_id: 't-1' }).info({ headers: { authorization: 'Bearer sk-secret' }, apiKey: 'k' }, 'hello');
    });
    log.info('outside');
    span.end();
    expect(lines[0]).toMatchObject({ service: 'router', instance: '2', task_id: 't-1', msg: 'hello', trace_id: span.spanContext().traceId });
    expect(JSON.stringify(lines[0])).not.toContain('sk-secret');
    expect(lines[0].apiKey).toBe('[REDACTED]');
    expect(lines[1].trace_id).toBeUndefined();
    context.disable();
  });
});
