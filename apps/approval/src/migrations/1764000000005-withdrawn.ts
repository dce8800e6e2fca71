import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Gate status `withdrawn`: the task ended without the gate (cancelled, or past its own
 * deadline) while the gate was pending. Terminal; nobody can decide it and nothing is published.
 */
export class Withdrawn1764000000005 implements MigrationInterface {
  name = 'Withdrawn1764000000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE approval.gates DROP CONSTRAINT gates_status_check');
    await q.query(`ALTER TABLE approval.gates ADD CONSTRAINT gates_status_check CHECK (status IN ('pending','approved','rejected','reviewed','expired','withdrawn'))`);
    await q.query(`CREATE INDEX gates_task_pending ON approval.gates (task_id) WHERE status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX approval.gates_task_pending');
    // Withdrawn gates read as expired to the older code: terminal, never run.
    await q.query(`UPDATE approval.gates SET status = 'expired' WHERE status = 'withdrawn'`);
    await q.query('ALTER TABLE approval.gates DROP CONSTRAINT gates_status_check');
    await q.query(`ALTER TABLE approval.gates ADD CONSTRAINT gates_status_check CHECK (status IN ('pending','approved','rejected','reviewed','expired'))`);
  }
}
