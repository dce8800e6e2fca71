import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The idempotency ledger: one row per tool call key `${task}:${step}:${index}`.
 * A row is claimed (`started`) before the tool runs and settled after; a
 * repeated key returns the settled result, and a `started` row found later
 * means the outcome is unknown (the executor died mid-call).
 */
export class Ledger1764000000002 implements MigrationInterface {
  name = 'Ledger1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tool_executor.ledger (
        idempotency_key text PRIMARY KEY,
        tenant text NOT NULL,
        task_id text NOT NULL,
        step int NOT NULL,
        tool text NOT NULL,
        args_hash text NOT NULL,
        status text NOT NULL CHECK (status IN ('started','succeeded','failed')),
        result jsonb,
        error jsonb,
        attempts int NOT NULL DEFAULT 1,
        started_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        duration_ms double precision
      )`);
    await q.query('CREATE INDEX ledger_task ON tool_executor.ledger (task_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE tool_executor.ledger');
  }
}
