import { Inject, Injectable } from '@nestjs/common';
import { DataSource, preparedQuery } from '@keel/persistence';

export interface StoredTurn {
  id: number;
  role: 'user' | 'assistant';
  content: string;
  conversationId: string;
}

export interface StoredFact {
  id: number;
  content: string;
  embedding: number[];
}

export interface ConversationMemory {
  /** The window: newest `window` turns of the conversation, oldest first. */
  recent: StoredTurn[];
  summary: { text: string; throughId: number } | null;
  facts: StoredFact[];
}

/** Everything Keel remembers about one user, as `GET /v1/memory/users/{id}` returns it. */
export interface UserMemoryExport {
  userId: string;
  conversations: { conversationId: string; turns: { id: number; role: string; content: string; taskId: string | null; createdAt: string }[]; summary: string | null }[];
  facts: { id: number; content: string; taskId: string | null; createdAt: string }[];
  tasks: number;
}

export interface ForgetReport {
  memoryItems: number;
  summaries: number;
  tasks: number;
  taskMessages: number;
  taskEvents: number;
  feedback: number;
  messages: number;
}

/** At most this many facts per user reach ranking (newest first); a user states few. */
const FACTS_LIMIT = 500;

/**
 * The memory tables (migration 1764000000200-memory). Every query is scoped to
 * `(tenant, user_key)`; nothing here reads across users.
 */
@Injectable()
export class MemoryRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** One round trip: the conversation's window, its summary and the user's facts. */
  async conversation(tenant: string, userKey: string, conversationId: string, window: number): Promise<ConversationMemory> {
    const rows = await preparedQuery<{ recent: StoredTurn[] | null; summary: { text: string; throughId: number } | null; facts: StoredFact[] | null }>(this.db, 'keel_memory_conversation',
      `SELECT
         (SELECT json_agg(r ORDER BY r.id) FROM (
            SELECT i.id, i.role, m.content->>'content' AS content, i.conversation_id AS "conversationId"
              FROM orchestrator.memory_items i JOIN orchestrator.messages m ON m.tenant = i.tenant AND m.hash = i.hash
             WHERE i.tenant = $1 AND i.user_key = $2 AND i.conversation_id = $3 AND i.kind = 'turn'
             ORDER BY i.id DESC LIMIT $4) r) AS recent,
         (SELECT json_build_object('text', s.summary, 'throughId', s.through_id) FROM orchestrator.memory_summaries s
           WHERE s.tenant = $1 AND s.user_key = $2 AND s.conversation_id = $3) AS summary,
         (SELECT json_agg(f ORDER BY f.id DESC) FROM (
            SELECT id, content, embedding FROM orchestrator.memory_items
             WHERE tenant = $1 AND user_key = $2 AND kind = 'fact' ORDER BY id DESC LIMIT ${FACTS_LIMIT}) f) AS facts`,
      [tenant, userKey, conversationId, window],
    );
    const r = rows[0];
    return {
      recent: (r.recent ?? []).map((t) => ({ ...t, id: Number(t.id) })),
      summary: r.summary ? { text: r.summary.text, throughId: Number(r.summary.throughId) } : null,
      facts: (r.facts ?? []).map((f) => ({ ...f, id: Number(f.id) })),
    };
  }

  /** The conversation's summary and the last turn it covers (null: none yet). */
  async summary(tenant: string, userKey: string, conversationId: string): Promise<ConversationMemory['summary']> {
    const rows: { summary: string; through_id: string }[] = await this.db.query(
      'SELECT summary, through_id FROM orchestrator.memory_summaries WHERE tenant = $1 AND user_key = $2 AND conversation_id = $3',
      [tenant, userKey, conversationId],
    );
    return rows[0] ? { text: rows[0].summary, throughId: Number(rows[0].through_id) } : null;
  }

  /** Embeddings of the user's turns stored after `afterId` (to bring a replica's vector copy up to date). */
  async turnVectorsAfter(tenant: string, userKey: string, afterId: number): Promise<{ id: number; vector: number[] }[]> {
    // As text, parsed with JSON.parse: pg's array parser is ~10x slower on 10k × 384 floats (bench/memory.bench.mjs, cold).
    const rows = await preparedQuery<{ id: string; embedding: string }>(this.db, 'keel_memory_vectors_after',
      `SELECT id, embedding::text AS embedding FROM orchestrator.memory_items
        WHERE tenant = $1 AND user_key = $2 AND kind = 'turn' AND id > $3 ORDER BY id`,
      [tenant, userKey, afterId],
    );
    return rows.map((r) => ({ id: Number(r.id), vector: JSON.parse(`[${r.embedding.slice(1, -1)}]`) as number[] }));
  }

  /** The text of turns by id, scoped to the user (ids from a stale copy simply do not come back). */
  async turns(tenant: string, userKey: string, ids: number[]): Promise<StoredTurn[]> {
    if (ids.length === 0) return [];
    const rows = await preparedQuery<StoredTurn>(this.db, 'keel_memory_turns',
      `SELECT i.id::float8 AS id, i.role, m.content->>'content' AS content, i.conversation_id AS "conversationId"
         FROM orchestrator.memory_items i JOIN orchestrator.messages m ON m.tenant = i.tenant AND m.hash = i.hash
        WHERE i.tenant = $1 AND i.user_key = $2 AND i.kind = 'turn' AND i.id = ANY($3::bigint[])`,
      [tenant, userKey, ids],
    );
    return rows;
  }

  /** Turns of the conversation after the summary's end, oldest first (what a summary refresh may fold in). */
  async turnsAfter(tenant: string, userKey: string, conversationId: string, afterId: number): Promise<StoredTurn[]> {
    return preparedQuery<StoredTurn>(this.db, 'keel_memory_turns_after',
      `SELECT i.id::float8 AS id, i.role, m.content->>'content' AS content, i.conversation_id AS "conversationId"
         FROM orchestrator.memory_items i JOIN orchestrator.messages m ON m.tenant = i.tenant AND m.hash = i.hash
        WHERE i.tenant = $1 AND i.user_key = $2 AND i.conversation_id = $3 AND i.kind = 'turn' AND i.id > $4
        ORDER BY i.id`,
      [tenant, userKey, conversationId, afterId],
    );
  }

  /**
   * Stores a refreshed summary if nobody else moved it meanwhile (two replicas
   * finishing turns of one conversation at once): false when it lost the race.
   */
  async saveSummary(tenant: string, userKey: string, conversationId: string, text: string, throughId: number, previousThroughId: number): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `INSERT INTO orchestrator.memory_summaries AS s (tenant, user_key, conversation_id, summary, through_id)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant, user_key, conversation_id) DO UPDATE SET summary = EXCLUDED.summary, through_id = EXCLUDED.through_id, updated_at = now()
         WHERE s.through_id = $6
       RETURNING 1`,
      [tenant, userKey, conversationId, text, throughId, previousThroughId],
    );
    return rows.length === 1;
  }

  /** Everything remembered about a user, turns in order, per conversation. */
  async exportUser(tenant: string, userId: string): Promise<UserMemoryExport> {
    const turns: { id: string; conversation_id: string; role: string; content: string; task_id: string | null; created_at: Date }[] = await this.db.query(
      `SELECT i.id, i.conversation_id, i.role, m.content->>'content' AS content, i.task_id, i.created_at
         FROM orchestrator.memory_items i JOIN orchestrator.messages m ON m.tenant = i.tenant AND m.hash = i.hash
        WHERE i.tenant = $1 AND i.user_key = $2 AND i.kind = 'turn' ORDER BY i.conversation_id, i.id`,
      [tenant, userId],
    );
    const facts: { id: string; content: string; task_id: string | null; created_at: Date }[] = await this.db.query(
      `SELECT id, content, task_id, created_at FROM orchestrator.memory_items WHERE tenant = $1 AND user_key = $2 AND kind = 'fact' ORDER BY id`,
      [tenant, userId],
    );
    const summaries: { conversation_id: string; summary: string }[] = await this.db.query(
      'SELECT conversation_id, summary FROM orchestrator.memory_summaries WHERE tenant = $1 AND user_key = $2',
      [tenant, userId],
    );
    const [{ n }]: { n: number }[] = await this.db.query('SELECT count(*)::int AS n FROM orchestrator.tasks WHERE tenant = $1 AND user_id = $2', [tenant, userId]);
    const conversations = new Map<string, UserMemoryExport['conversations'][number]>();
    const conversation = (id: string) => {
      let c = conversations.get(id);
      if (!c) conversations.set(id, (c = { conversationId: id, turns: [], summary: null }));
      return c;
    };
    for (const t of turns) conversation(t.conversation_id).turns.push({ id: Number(t.id), role: t.role, content: t.content, taskId: t.task_id, createdAt: t.created_at.toISOString() });
    for (const s of summaries) conversation(s.conversation_id).summary = s.summary;
    return {
      userId,
      conversations: [...conversations.values()],
      facts: facts.map((f) => ({ id: Number(f.id), content: f.content, taskId: f.task_id, createdAt: f.created_at.toISOString() })),
      tasks: n,
    };
  }

  /** The user's tasks that are still running (a deletion waits for them: their last step would remember again). */
  async activeTasks(tenant: string, userId: string): Promise<number> {
    const [{ n }]: { n: number }[] = await this.db.query(
      `SELECT count(*)::int AS n FROM orchestrator.tasks WHERE tenant = $1 AND user_id = $2 AND finished_at IS NULL`,
      [tenant, userId],
    );
    return n;
  }

  /**
   * Right to be forgotten, in one transaction: the user's memory (turns,
   * facts, summaries), their finished tasks with transcripts, events and
   * feedback, and every stored message no longer referenced by anyone (a
   * message another user also sent, byte for byte, stays theirs).
   */
  async forgetUser(tenant: string, userId: string): Promise<ForgetReport> {
    return this.db.transaction(async (em) => {
      const count = async (sql: string, params: unknown[]): Promise<number> => {
        const res: { n: number }[] = await em.query(`WITH d AS (${sql} RETURNING 1) SELECT count(*)::int AS n FROM d`, params);
        return res[0].n;
      };
      // Hashes the deleted rows referred to: candidates for deletion once nothing refers to them.
      await em.query(`CREATE TEMP TABLE forget_hashes (hash text PRIMARY KEY) ON COMMIT DROP`);
      await em.query(
        `INSERT INTO forget_hashes
         SELECT hash FROM orchestrator.memory_items WHERE tenant = $1 AND user_key = $2 AND kind = 'turn'
         UNION SELECT tm.hash FROM orchestrator.task_messages tm JOIN orchestrator.tasks t ON t.id = tm.task_id WHERE t.tenant = $1 AND t.user_id = $2
         ON CONFLICT DO NOTHING`,
        [tenant, userId],
      );
      const memoryItems = await count('DELETE FROM orchestrator.memory_items WHERE tenant = $1 AND user_key = $2', [tenant, userId]);
      const summaries = await count('DELETE FROM orchestrator.memory_summaries WHERE tenant = $1 AND user_key = $2', [tenant, userId]);
      const userTasks = 'SELECT id FROM orchestrator.tasks WHERE tenant = $1 AND user_id = $2';
      const taskMessages = await count(`DELETE FROM orchestrator.task_messages WHERE task_id IN (${userTasks})`, [tenant, userId]);
      const taskEvents = await count(`DELETE FROM orchestrator.task_events WHERE task_id IN (${userTasks})`, [tenant, userId]);
      const feedback = await count(`DELETE FROM orchestrator.feedback WHERE task_id IN (${userTasks})`, [tenant, userId]);
      const tasks = await count('DELETE FROM orchestrator.tasks WHERE tenant = $1 AND user_id = $2', [tenant, userId]);
      const messages = await count(
        `DELETE FROM orchestrator.messages m USING forget_hashes f
          WHERE m.tenant = $1 AND m.hash = f.hash
            AND NOT EXISTS (SELECT 1 FROM orchestrator.task_messages tm JOIN orchestrator.tasks t ON t.id = tm.task_id WHERE tm.hash = m.hash AND t.tenant = $1)
            AND NOT EXISTS (SELECT 1 FROM orchestrator.memory_items i WHERE i.tenant = $1 AND i.hash = m.hash)`,
        [tenant],
      );
      return { memoryItems, summaries, tasks, taskMessages, taskEvents, feedback, messages };
    });
  }
}
