import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Conversation memory (apps/orchestrator/README.md, "Memory").
 *
 * `memory_items` holds both layers that are retrieved by similarity: the turns
 * of conversations (content by hash in `messages`, so a turn's text is stored
 * once, as checkpoints store theirs) and the user facts extracted from them
 * (short, inline). Every row is scoped to `(tenant, user_key)`; `user_key` is
 * the task's userId, or `conversation:<id>` for tasks without one, so
 * anonymous users never share long-term memory. Embeddings are `real[]`
 * (pgvector is not available on every Postgres; retrieval scans them in the
 * orchestrator, see memory/vector-index.ts).
 *
 * `memory_summaries` is the short-term layer: one rolling summary per
 * conversation, covering turns up to `through_id`.
 */
export class Memory1764000000200 implements MigrationInterface {
  name = 'Memory1764000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE orchestrator.memory_items (
        id bigserial PRIMARY KEY,
        tenant text NOT NULL,
        user_key text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('turn', 'fact')),
        conversation_id text,
        role text CHECK (role IN ('user', 'assistant')),
        hash text NOT NULL,
        content text,
        embedding real[] NOT NULL,
        task_id uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((kind = 'turn') = (conversation_id IS NOT NULL AND role IS NOT NULL AND content IS NULL))
      )`);
    await q.query('CREATE INDEX memory_items_user ON orchestrator.memory_items (tenant, user_key, kind, id)');
    await q.query(`CREATE INDEX memory_items_conversation ON orchestrator.memory_items (tenant, user_key, conversation_id, id) WHERE kind = 'turn'`);
    // A fact is stored once per user; a task records its turns once (a redelivered final step inserts nothing).
    await q.query(`CREATE UNIQUE INDEX memory_items_fact ON orchestrator.memory_items (tenant, user_key, hash) WHERE kind = 'fact'`);
    await q.query(`CREATE UNIQUE INDEX memory_items_task_turn ON orchestrator.memory_items (task_id, role) WHERE kind = 'turn'`);
    // Deletion keeps a message only while something still references it.
    await q.query('CREATE INDEX memory_items_hash ON orchestrator.memory_items (tenant, hash)');
    await q.query('CREATE INDEX task_messages_hash ON orchestrator.task_messages (hash)');
    await q.query('CREATE INDEX tasks_user ON orchestrator.tasks (tenant, user_id) WHERE user_id IS NOT NULL');
    await q.query(`
      CREATE TABLE orchestrator.memory_summaries (
        tenant text NOT NULL,
        user_key text NOT NULL,
        conversation_id text NOT NULL,
        summary text NOT NULL,
        through_id bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, user_key, conversation_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE orchestrator.memory_summaries');
    await q.query('DROP INDEX orchestrator.tasks_user');
    await q.query('DROP INDEX orchestrator.task_messages_hash');
    await q.query('DROP TABLE orchestrator.memory_items');
  }
}
