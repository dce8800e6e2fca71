import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One prom-client registry per process, served at GET /metrics. Metric names
 * follow `keel_<area>_<what>_<unit>` (docs/metrics.md lists them).
 */
export const registry = new Registry();
let defaultsCollected = false;

export function initMetrics(service: string, instance: string): void {
  registry.setDefaultLabels({ service, instance });
  if (!defaultsCollected) {
    collectDefaultMetrics({ register: registry });
    defaultsCollected = true;
  }
}

function getOrCreate<T>(name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return getOrCreate(name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

export function gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  return getOrCreate(name, () => new Gauge({ name, help, labelNames, registers: [registry] }));
}

export function histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
  return getOrCreate(name, () => new Histogram({ name, help, labelNames, registers: [registry], buckets: buckets ?? [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] }));
}
