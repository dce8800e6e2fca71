import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The degradation ladder's memory: the last good result of a call (tenant,
 * tool, argument hash) for agents that allow a cached stand-in, and on the
 * ledger which rung answered, so a replay returns the same degraded answer.
 */
export class Degradation1764000000003 implements MigrationInterface {
  name = 'Degradation1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE tool_executor.ledger ADD COLUMN degraded jsonb');
    await q.query(`
      CREATE TABLE tool_executor.result_cache (
        tenant text NOT NULL,
        tool text NOT NULL,
        args_hash text NOT NULL,
        result jsonb NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, tool, args_hash)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE tool_executor.result_cache');
    await q.query('ALTER TABLE tool_executor.ledger DROP COLUMN degraded');
  }
}
