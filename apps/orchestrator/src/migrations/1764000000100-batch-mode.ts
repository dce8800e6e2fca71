import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Batch-mode tasks: `mode` says how the task's model turns are made
 * (`realtime` | `batch`), and `waiting_model` (a turn parked in a provider
 * batch) joins the active statuses the watchdog and cancellation index by.
 */
export class BatchMode1764000000100 implements MigrationInterface {
  name = 'BatchMode1764000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orchestrator.tasks ADD COLUMN mode text NOT NULL DEFAULT 'realtime' CHECK (mode IN ('realtime', 'batch'))`);
    await q.query('DROP INDEX orchestrator.tasks_active');
    await q.query(`CREATE INDEX tasks_active ON orchestrator.tasks (status, updated_at) WHERE status IN ('queued','running','waiting_approval','waiting_model')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX orchestrator.tasks_active');
    await q.query(`CREATE INDEX tasks_active ON orchestrator.tasks (status, updated_at) WHERE status IN ('queued','running','waiting_approval')`);
    await q.query('ALTER TABLE orchestrator.tasks DROP COLUMN mode');
  }
}
