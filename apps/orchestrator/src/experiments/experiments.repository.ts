import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from '@keel/persistence';

/** One variant's aggregates, straight from SQL (experiments.service.ts adds rates and the test). */
export interface VariantAggregate {
  variant: string;
  tasks: number;
  succeeded: number;
  /** `failed` and `timed_out`. */
  failed: number;
  cancelled: number;
  /** Not finished yet. */
  active: number;
  firstAt: Date | null;
  lastAt: Date | null;
  meanLatencyMs: number | null;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  meanCostUsd: number | null;
  feedbackCount: number;
  meanFeedbackScore: number | null;
}

type Row = {
  variant: string; tasks: number; succeeded: number; failed: number; cancelled: number; active: number; first_at: Date | null; last_at: Date | null;
  mean_ms: number | null; p50_ms: number | null; p95_ms: number | null; mean_cost: number | null; feedback_count: number; feedback_mean: number | null;
};

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

@Injectable()
export class ExperimentsRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /**
   * Per variant of one experiment of one agent, in one statement: task counts
   * by outcome, latency (created → finished) of finished tasks (mean, p50,
   * p95), mean cost of finished tasks, feedback count and mean score (every
   * feedback row counts; a task may get several).
   */
  async aggregates(tenant: string, agent: string, experiment: string, since: Date | null): Promise<VariantAggregate[]> {
    const rows: Row[] = await this.db.query(
      `WITH t AS (
         SELECT id, variant, status, created_at, finished_at, cost_usd,
                CASE WHEN finished_at IS NOT NULL AND status IN ('succeeded','failed','timed_out')
                     THEN extract(epoch FROM finished_at - created_at) * 1000 END AS latency_ms
           FROM orchestrator.tasks
          WHERE tenant = $1 AND agent = $2 AND experiment = $3 AND variant IS NOT NULL AND ($4::timestamptz IS NULL OR created_at >= $4)
       ), f AS (
         SELECT f.task_id, count(*)::int AS n, sum(f.score)::int AS total
           FROM orchestrator.feedback f JOIN t ON t.id = f.task_id
          WHERE f.tenant = $1
          GROUP BY f.task_id
       )
       SELECT t.variant,
              count(*)::int AS tasks,
              count(*) FILTER (WHERE t.status = 'succeeded')::int AS succeeded,
              count(*) FILTER (WHERE t.status IN ('failed','timed_out'))::int AS failed,
              count(*) FILTER (WHERE t.status = 'cancelled')::int AS cancelled,
              count(*) FILTER (WHERE t.status NOT IN ('succeeded','failed','timed_out','cancelled'))::int AS active,
              min(t.created_at) AS first_at, max(t.created_at) AS last_at,
              avg(t.latency_ms) AS mean_ms,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY t.latency_ms) AS p50_ms,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY t.latency_ms) AS p95_ms,
              avg(t.cost_usd) FILTER (WHERE t.latency_ms IS NOT NULL) AS mean_cost,
              COALESCE(sum(f.n), 0)::int AS feedback_count,
              sum(f.total)::float8 / NULLIF(sum(f.n), 0) AS feedback_mean
         FROM t LEFT JOIN f ON f.task_id = t.id
        GROUP BY t.variant`,
      [tenant, agent, experiment, since],
    );
    return rows.map((r) => ({
      variant: r.variant, tasks: r.tasks, succeeded: r.succeeded, failed: r.failed, cancelled: r.cancelled, active: r.active,
      firstAt: r.first_at ? new Date(r.first_at) : null, lastAt: r.last_at ? new Date(r.last_at) : null,
      meanLatencyMs: num(r.mean_ms), p50LatencyMs: num(r.p50_ms), p95LatencyMs: num(r.p95_ms), meanCostUsd: num(r.mean_cost),
      feedbackCount: r.feedback_count, meanFeedbackScore: num(r.feedback_mean),
    }));
  }

  /** Experiment names this agent's tasks were assigned under (newest first), for an agent whose file no longer declares one. */
  async experimentsOf(tenant: string, agent: string): Promise<string[]> {
    const rows: { experiment: string }[] = await this.db.query(
      `SELECT experiment FROM orchestrator.tasks WHERE tenant = $1 AND agent = $2 AND experiment IS NOT NULL
        GROUP BY experiment ORDER BY max(created_at) DESC LIMIT 20`,
      [tenant, agent],
    );
    return rows.map((r) => r.experiment);
  }
}
