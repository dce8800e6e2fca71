import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tasks and their durable history. `tasks` is the current state (one row per
 * task, updated by each step's checkpoint); `task_events` is the append-only
 * log; transcripts are content-addressed: `messages` stores each message once
 * per tenant and `task_messages` refers to it by hash, so a K-step task stores
 * O(K) message bytes. No foreign keys on the hot tables: each step writes
 * them in the same statement that fences the task row.
 */
export class Initial1764000000000 implements MigrationInterface {
  name = 'Initial1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE orchestrator.api_keys (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin','submitter','approver','viewer')),
        name text NOT NULL,
        prefix text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        revoked_at timestamptz
      )`);
    await q.query(`
      CREATE TABLE orchestrator.tasks (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        user_id text,
        agent text NOT NULL,
        status text NOT NULL,
        source text NOT NULL,
        input text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        conversation_id text,
        idempotency_key text,
        output text,
        error jsonb,
        step int NOT NULL DEFAULT 0,
        model_calls int NOT NULL DEFAULT 0,
        message_count int NOT NULL DEFAULT 0,
        event_seq int NOT NULL DEFAULT 0,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        cost_usd double precision NOT NULL DEFAULT 0,
        pending jsonb,
        trace_id text,
        traceparent text,
        deadline_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        CONSTRAINT tasks_idempotency UNIQUE (tenant, idempotency_key)
      )`);
    await q.query(`CREATE INDEX tasks_tenant_created ON orchestrator.tasks (tenant, created_at DESC)`);
    await q.query(`CREATE INDEX tasks_active ON orchestrator.tasks (status, updated_at) WHERE status IN ('queued','running','waiting_approval')`);
    await q.query(`
      CREATE TABLE orchestrator.messages (
        tenant text NOT NULL,
        hash text NOT NULL,
        content jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, hash)
      )`);
    await q.query(`
      CREATE TABLE orchestrator.task_messages (
        task_id uuid NOT NULL,
        idx int NOT NULL,
        hash text NOT NULL,
        PRIMARY KEY (task_id, idx)
      )`);
    await q.query(`
      CREATE TABLE orchestrator.task_events (
        task_id uuid NOT NULL,
        seq int NOT NULL,
        type text NOT NULL,
        data jsonb NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, seq)
      )`);
    await q.query(`
      CREATE TABLE orchestrator.feedback (
        id bigserial PRIMARY KEY,
        task_id uuid NOT NULL,
        tenant text NOT NULL,
        score smallint NOT NULL CHECK (score IN (-1, 1)),
        comment text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['feedback', 'task_events', 'task_messages', 'messages', 'tasks', 'api_keys']) {
      await q.query(`DROP TABLE orchestrator.${t}`);
    }
  }
}
