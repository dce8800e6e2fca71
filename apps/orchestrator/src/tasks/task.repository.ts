import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from '@keel/persistence';
import type { TaskEvent, TaskMode, TaskStatus, TaskView } from '@keel/contracts';

export interface NewTask {
  id: string;
  tenant: string;
  userId: string | null;
  agent: string;
  source: 'rest' | 'nats';
  mode: TaskMode;
  input: string;
  metadata: Record<string, unknown>;
  conversationId: string | null;
  idempotencyKey: string | null;
  traceId: string | null;
  traceparent: string | null;
  deadlineAt: Date;
  /** A/B assignment at submit (experiments/variants.ts); absent outside an experiment. */
  experiment?: { experiment: string; variant: string; assignment: 'user' | 'task' } | null;
}

type TaskRow = {
  id: string; tenant: string; agent: string; status: TaskStatus; mode: TaskMode; input: string; output: string | null;
  error: TaskView['error']; step: number; input_tokens: string; output_tokens: string; cost_usd: number;
  trace_id: string | null; conversation_id: string | null; metadata: Record<string, unknown>;
  created_at: Date; updated_at: Date; finished_at: Date | null; experiment: string | null; variant: string | null;
};

const toView = (r: TaskRow): TaskView => ({
  id: r.id,
  status: r.status,
  agent: r.agent,
  mode: r.mode,
  input: r.input,
  output: r.output,
  error: r.error,
  steps: r.step,
  usage: { inputTokens: Number(r.input_tokens), outputTokens: Number(r.output_tokens), costUsd: Number(r.cost_usd.toFixed(8)) },
  traceId: r.trace_id,
  conversationId: r.conversation_id,
  metadata: r.metadata,
  createdAt: new Date(r.created_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
  finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
  experiment: r.experiment ?? null,
  variant: r.variant ?? null,
});

@Injectable()
export class TaskRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /**
   * Inserts the task and its `task.submitted` event in one statement. The
   * unique (tenant, idempotency_key) makes a repeated submission a no-op that
   * returns the existing task instead (`created: false`).
   */
  async create(t: NewTask, event: Record<string, unknown>): Promise<{ created: boolean; id: string; status: TaskStatus; step: number; traceparent: string | null }> {
    const rows: { id: string; status: TaskStatus }[] = await this.db.query(
      `WITH t AS (
         INSERT INTO orchestrator.tasks (id, tenant, user_id, agent, status, source, input, metadata, conversation_id,
                                         idempotency_key, trace_id, traceparent, deadline_at, event_seq, mode, experiment, variant, assignment)
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11, $12, 1, $14, $15, $16, $17)
         -- No conflict target: the id (derived from tenant + key) and (tenant, idempotency_key) are both unique, and two
         -- concurrent duplicates may collide on either; any conflict means the task exists.
         ON CONFLICT DO NOTHING
         RETURNING id, status
       ), e AS (
         INSERT INTO orchestrator.task_events (task_id, seq, type, data) SELECT id, 1, 'task.submitted', $13::jsonb FROM t
       )
       SELECT id, status FROM t`,
      [t.id, t.tenant, t.userId, t.agent, t.source, t.input, JSON.stringify(t.metadata), t.conversationId, t.idempotencyKey, t.traceId, t.traceparent, t.deadlineAt, JSON.stringify(event), t.mode,
        t.experiment?.experiment ?? null, t.experiment?.variant ?? null, t.experiment?.assignment ?? null],
    );
    if (rows[0]) return { created: true, id: rows[0].id, status: rows[0].status, step: 0, traceparent: t.traceparent };
    const existing: { id: string; status: TaskStatus; step: number; traceparent: string | null }[] = await this.db.query(
      'SELECT id, status, step, traceparent FROM orchestrator.tasks WHERE tenant = $1 AND idempotency_key = $2',
      [t.tenant, t.idempotencyKey],
    );
    return { created: false, ...existing[0] };
  }

  /** Tenant-scoped: another tenant's task is simply not found. */
  async get(tenant: string, id: string): Promise<TaskView | null> {
    const rows: TaskRow[] = await this.db.query(
      `SELECT id, tenant, agent, status, mode, input, output, error, step, input_tokens, output_tokens, cost_usd, trace_id,
              conversation_id, metadata, created_at, updated_at, finished_at, experiment, variant
         FROM orchestrator.tasks WHERE id = $1 AND tenant = $2`,
      [id, tenant],
    );
    return rows[0] ? toView(rows[0]) : null;
  }

  async events(taskId: string, afterSeq: number): Promise<TaskEvent[]> {
    const rows: { seq: number; type: string; data: Record<string, unknown>; at: Date }[] = await this.db.query(
      'SELECT seq, type, data, at FROM orchestrator.task_events WHERE task_id = $1 AND seq > $2 ORDER BY seq',
      [taskId, afterSeq],
    );
    return rows.map((r) => ({ taskId, seq: r.seq, type: r.type, data: r.data, at: new Date(r.at).toISOString() }));
  }

  /** Marks a non-terminal task cancelled (with its event); a running step's commit then fails its fence and is discarded. */
  async cancel(tenant: string, id: string, by: string): Promise<{ found: boolean; status: TaskStatus | null; event: TaskEvent | null }> {
    const rows: { status: TaskStatus; seq: number | null; at: Date | null }[] = await this.db.query(
      `WITH t AS (
         UPDATE orchestrator.tasks SET status = 'cancelled', finished_at = now(), updated_at = now(), event_seq = event_seq + 1,
                pending = NULL, error = '{"code":"cancelled","message":"cancelled on request"}'::jsonb
          WHERE id = $1 AND tenant = $2 AND status IN ('queued','running','waiting_approval','waiting_model')
          RETURNING id, event_seq
       ), e AS (
         INSERT INTO orchestrator.task_events (task_id, seq, type, data)
         SELECT id, event_seq, 'task.cancelled', jsonb_build_object('by', $3::text) FROM t RETURNING seq, at
       )
       SELECT 'cancelled' AS status, (SELECT seq FROM e) AS seq, (SELECT at FROM e) AS at FROM t
       UNION ALL
       SELECT status, NULL, NULL FROM orchestrator.tasks WHERE id = $1 AND tenant = $2 AND NOT EXISTS (SELECT 1 FROM t)`,
      [id, tenant, by],
    );
    const r = rows[0];
    if (!r) return { found: false, status: null, event: null };
    const event = r.seq ? { taskId: id, seq: r.seq, type: 'task.cancelled', data: { by }, at: new Date(r.at!).toISOString() } : null;
    return { found: true, status: r.status, event };
  }

  /** Records feedback on a task of the tenant; null when there is no such task, else the task's agent (a metric label). */
  async addFeedback(tenant: string, id: string, score: 1 | -1, comment: string | undefined): Promise<{ agent: string } | null> {
    const rows: { agent: string }[] = await this.db.query(
      `WITH t AS (SELECT id, tenant, agent FROM orchestrator.tasks WHERE id = $1 AND tenant = $2),
            f AS (INSERT INTO orchestrator.feedback (task_id, tenant, score, comment) SELECT id, tenant, $3, $4 FROM t RETURNING task_id)
       SELECT t.agent FROM t JOIN f ON f.task_id = t.id`,
      [id, tenant, score, comment ?? null],
    );
    return rows[0] ?? null;
  }
}
