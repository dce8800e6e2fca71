import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from '@keel/persistence';
import type { ChatMessage, TaskMode } from '@keel/contracts';
import { messageHash } from '../checkpoints/checkpoint.repository';

/** Where step N of a task ended: its transcript length and script cursor then (the `step.completed` event records both). */
export interface StepBoundary {
  messageCount: number;
  modelCalls: number;
}

export interface NewReplayTask {
  id: string;
  tenant: string;
  userId: string | null;
  agent: string;
  mode: TaskMode;
  input: string;
  metadata: Record<string, unknown>;
  conversationId: string | null;
  traceId: string | null;
  traceparent: string | null;
  deadlineAt: Date;
  replayOf: string;
  fromStep: number;
  modelCalls: number;
  /** The starting transcript: the original's first `messageCount` messages… */
  messageCount: number;
  /** …with this system message instead of the original's, when the replay changes it. */
  system?: ChatMessage;
  event: Record<string, unknown>;
}

@Injectable()
export class ReplayRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** The recorded end of step `step`; null when the task was recorded before replay support (no `messageCount`). */
  async boundary(taskId: string, step: number): Promise<StepBoundary | null> {
    const rows: { data: { messageCount?: unknown; modelCalls?: unknown } }[] = await this.db.query(
      `SELECT data FROM orchestrator.task_events
        WHERE task_id = $1 AND type = 'step.completed' AND data->>'step' = $2::text ORDER BY seq LIMIT 1`,
      [taskId, step],
    );
    const d = rows[0]?.data;
    if (!d || typeof d.messageCount !== 'number' || typeof d.modelCalls !== 'number') return null;
    return { messageCount: d.messageCount, modelCalls: d.modelCalls };
  }

  async metadataOf(taskId: string): Promise<Record<string, unknown> | null> {
    const rows: { metadata: Record<string, unknown> }[] = await this.db.query('SELECT metadata FROM orchestrator.tasks WHERE id = $1', [taskId]);
    return rows[0]?.metadata ?? null;
  }

  /**
   * The replay task in one statement: the row at step N (`running`, or
   * `queued` at step 0 so the stranded sweep covers its first publish), its
   * starting transcript as references to the original's stored messages (the
   * same hashes: nothing is copied but a replaced system message) and its
   * `task.submitted`.
   */
  async create(t: NewReplayTask): Promise<void> {
    const system = t.system ? { hash: messageHash(t.system), content: JSON.stringify(t.system) } : null;
    await this.db.query(
      `WITH t AS (
         INSERT INTO orchestrator.tasks (id, tenant, user_id, agent, status, source, input, metadata, conversation_id, trace_id, traceparent,
                                         deadline_at, event_seq, mode, step, model_calls, message_count, replay_of, replay_from_step)
         VALUES ($1, $2, $3, $4, CASE WHEN $12::int = 0 THEN 'queued' ELSE 'running' END, 'replay', $5, $6, $7, $8, $9, $10, 1, $11,
                 $12, $13, $14, $15, $12)
         RETURNING id, tenant
       ), m AS (
         INSERT INTO orchestrator.messages (tenant, hash, content)
         SELECT t.tenant, $16::text, $17::jsonb FROM t WHERE $16::text IS NOT NULL
         ON CONFLICT DO NOTHING
       ), tm AS (
         INSERT INTO orchestrator.task_messages (task_id, idx, hash)
         SELECT t.id, o.idx, CASE WHEN o.idx = 0 AND $16::text IS NOT NULL THEN $16::text ELSE o.hash END
           FROM t, orchestrator.task_messages o WHERE o.task_id = $15 AND o.idx < $14
       )
       INSERT INTO orchestrator.task_events (task_id, seq, type, data) SELECT t.id, 1, 'task.submitted', $18::jsonb FROM t`,
      [
        t.id, t.tenant, t.userId, t.agent, t.input, JSON.stringify(t.metadata), t.conversationId, t.traceId, t.traceparent, t.deadlineAt, t.mode,
        t.fromStep, t.modelCalls, t.messageCount, t.replayOf, system?.hash ?? null, system?.content ?? null, JSON.stringify(t.event),
      ],
    );
  }
}
