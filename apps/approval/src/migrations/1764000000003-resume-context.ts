import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `traceparent`: the trace context of the step that opened the gate, so the
 * resume work item this service publishes after an approval continues the
 * task's trace.
 */
export class ResumeContext1764000000003 implements MigrationInterface {
  name = 'ResumeContext1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE approval.gates ADD COLUMN traceparent text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE approval.gates DROP COLUMN traceparent');
  }
}
