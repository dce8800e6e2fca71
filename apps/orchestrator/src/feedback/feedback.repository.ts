import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { DataSource } from '@keel/persistence';

export const FeedbackQuerySchema = z.object({
  score: z.enum(['1', '-1']).transform(Number).optional(),
  since: z.iso.datetime({ offset: true, error: 'since is an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z' }).optional(),
  agent: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'agent is a lowercase agent name').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
}).strict();
export type FeedbackQuery = z.output<typeof FeedbackQuerySchema>;

/** One feedback entry with the task it is about: what `keel feedback-candidates` turns into eval cases. */
export interface FeedbackItem {
  id: string;
  taskId: string;
  score: 1 | -1;
  comment: string | null;
  at: string;
  agent: string;
  status: string;
  input: string;
  output: string | null;
  userId: string | null;
  conversationId: string | null;
  experiment: string | null;
  variant: string | null;
}

type Row = {
  id: string; task_id: string; score: number; comment: string | null; at: Date; agent: string; status: string; input: string; output: string | null;
  user_id: string | null; conversation_id: string | null; experiment: string | null; variant: string | null;
};

@Injectable()
export class FeedbackRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** The tenant's feedback, newest first, each with its task's input and output. */
  async list(tenant: string, q: FeedbackQuery): Promise<FeedbackItem[]> {
    const rows: Row[] = await this.db.query(
      `SELECT f.id::text AS id, f.task_id, f.score, f.comment, f.created_at AS at, t.agent, t.status, t.input, t.output, t.user_id, t.conversation_id,
              t.experiment, t.variant
         FROM orchestrator.feedback f JOIN orchestrator.tasks t ON t.id = f.task_id AND t.tenant = f.tenant
        WHERE f.tenant = $1 AND ($2::smallint IS NULL OR f.score = $2) AND ($3::timestamptz IS NULL OR f.created_at >= $3)
          AND ($4::text IS NULL OR t.agent = $4)
        ORDER BY f.created_at DESC, f.id DESC
        LIMIT $5`,
      [tenant, q.score ?? null, q.since ?? null, q.agent ?? null, q.limit],
    );
    return rows.map((r) => ({
      id: r.id, taskId: r.task_id, score: r.score === 1 ? 1 : -1, comment: r.comment, at: new Date(r.at).toISOString(), agent: r.agent, status: r.status,
      input: r.input, output: r.output, userId: r.user_id, conversationId: r.conversation_id, experiment: r.experiment, variant: r.variant,
    }));
  }
}
