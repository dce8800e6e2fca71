import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { KeelError } from '@keel/contracts';
import type { Agent, Experiment } from '@keel/contracts';
import { AGENTS } from '@keel/service-kit';
import { ExperimentsRepository } from './experiments.repository';
import type { VariantAggregate } from './experiments.repository';
import { MIN_TASKS_PER_VARIANT, twoProportionZTest } from './stats';

export const ExperimentQuerySchema = z.object({
  /** Another (e.g. an earlier) experiment of the agent; default: the one its file declares. */
  experiment: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'experiment is a lowercase name').optional(),
  /** Only tasks created at or after this instant (ISO 8601). */
  since: z.iso.datetime({ offset: true, error: 'since is an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z' }).optional(),
  alpha: z.coerce.number().gt(0).lt(1).optional(),
}).strict();
export type ExperimentQuery = z.infer<typeof ExperimentQuerySchema>;

export interface VariantComparison {
  against: string;
  status: 'ok' | 'not_enough_data';
  /** successRate(this) − successRate(baseline). */
  difference: number | null;
  z: number | null;
  pValue: number | null;
  /** Bonferroni: pValue × (number of comparisons), at most 1; what `significant` uses. */
  pValueAdjusted: number | null;
  significant: boolean;
  reason?: string;
}

export interface VariantResult {
  name: string;
  /** Declared share of new assignments (weight / total); null for a variant no longer declared. */
  share: number | null;
  declared: boolean;
  tasks: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  active: number;
  /** succeeded / (succeeded + failed); cancelled and unfinished tasks are left out. Null before any finished task. */
  successRate: number | null;
  latencyMs: { mean: number | null; p50: number | null; p95: number | null };
  meanCostUsd: number | null;
  feedback: { count: number; meanScore: number | null };
  /** Against the first declared variant (the baseline); null for the baseline itself. */
  comparison: VariantComparison | null;
}

export interface ExperimentResults {
  agent: string;
  experiment: string;
  declared: boolean;
  since: string | null;
  baseline: string;
  alpha: number;
  minTasksPerVariant: number;
  variants: VariantResult[];
}

const round = (v: number | null, digits = 6): number | null => (v === null ? null : Number(v.toFixed(digits)));

/**
 * Per-variant results with a two-proportion z-test of each variant's success
 * rate against the baseline (the first declared variant, else the first seen).
 * Pure: the SQL aggregates in, the report out.
 */
export function summarize(experiment: string, declared: Experiment | undefined, rows: VariantAggregate[], alpha = 0.05): Omit<ExperimentResults, 'agent' | 'since'> {
  const byName = new Map(rows.map((r) => [r.variant, r]));
  const totalWeight = declared ? declared.variants.reduce((s, v) => s + (v.weight ?? 1), 0) : 0;
  const names = [...(declared?.variants.map((v) => v.name) ?? []), ...rows.map((r) => r.variant).filter((n) => !declared?.variants.some((v) => v.name === n)).sort()];
  const baseline = names[0] ?? '';
  const base = byName.get(baseline);
  const comparisons = Math.max(1, names.length - 1);
  const variants = names.map((name): VariantResult => {
    const r = byName.get(name);
    const v = declared?.variants.find((x) => x.name === name);
    const finished = r ? r.succeeded + r.failed : 0;
    let comparison: VariantComparison | null = null;
    if (name !== baseline) {
      const t = twoProportionZTest(base?.succeeded ?? 0, (base?.succeeded ?? 0) + (base?.failed ?? 0), r?.succeeded ?? 0, finished);
      const adjusted = t.status === 'ok' ? Math.min(1, t.pValue * comparisons) : null;
      comparison = t.status === 'ok'
        ? { against: baseline, status: 'ok', difference: round(t.difference), z: round(t.z, 4), pValue: round(t.pValue, 6), pValueAdjusted: round(adjusted, 6), significant: adjusted! < alpha }
        : { against: baseline, status: 'not_enough_data', difference: round(t.difference), z: null, pValue: null, pValueAdjusted: null, significant: false, reason: t.reason };
    }
    return {
      name,
      share: v ? round((v.weight ?? 1) / totalWeight, 4) : null,
      declared: v !== undefined,
      tasks: r?.tasks ?? 0, succeeded: r?.succeeded ?? 0, failed: r?.failed ?? 0, cancelled: r?.cancelled ?? 0, active: r?.active ?? 0,
      successRate: finished > 0 ? round(r!.succeeded / finished, 4) : null,
      latencyMs: { mean: round(r?.meanLatencyMs ?? null, 1), p50: round(r?.p50LatencyMs ?? null, 1), p95: round(r?.p95LatencyMs ?? null, 1) },
      meanCostUsd: round(r?.meanCostUsd ?? null, 8),
      feedback: { count: r?.feedbackCount ?? 0, meanScore: round(r?.meanFeedbackScore ?? null, 4) },
      comparison,
    };
  });
  return { experiment, declared: declared !== undefined, baseline, alpha, minTasksPerVariant: MIN_TASKS_PER_VARIANT, variants };
}

@Injectable()
export class ExperimentsService {
  constructor(
    @Inject(ExperimentsRepository) private readonly repo: ExperimentsRepository,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
  ) {}

  async results(tenant: string, agentName: string, q: ExperimentQuery): Promise<ExperimentResults> {
    const agent = this.agents.get(agentName);
    let name = q.experiment ?? agent?.experiment?.name;
    if (!name) {
      // Not declared (any more): the agent's most recent experiment in the data, if any.
      name = (await this.repo.experimentsOf(tenant, agentName))[0];
      if (!name) {
        throw new KeelError('not_found', agent
          ? `agent "${agentName}" has no experiment: declare one in its file (experiment: {name, variants}), see docs/experiments.md`
          : `agent "${agentName}" is not loaded and has no experiment data`);
      }
    }
    const since = q.since ? new Date(q.since) : null;
    const rows = await this.repo.aggregates(tenant, agentName, name, since);
    const declared = agent?.experiment?.name === name ? agent.experiment : undefined;
    if (!declared && rows.length === 0) throw new KeelError('not_found', `agent "${agentName}" has no tasks in experiment "${name}"`);
    return { agent: agentName, since: since?.toISOString() ?? null, ...summarize(name, declared, rows, q.alpha ?? 0.05) };
  }
}
