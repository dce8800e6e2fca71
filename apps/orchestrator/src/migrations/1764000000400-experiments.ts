import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A/B experiments (docs/experiments.md): the experiment and variant a task was
 * assigned at submit, and whether the assignment is sticky by user or by task.
 * Nullable: tasks outside an experiment, and every task before this migration,
 * have none. Adding nullable columns without a default rewrites nothing.
 *
 * Indexes: per-variant results read one experiment's tasks of a tenant; the
 * feedback listing reads a tenant's feedback by score, newest first; both join
 * feedback to tasks by task id.
 */
export class Experiments1764000000400 implements MigrationInterface {
  name = 'Experiments1764000000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orchestrator.tasks ADD COLUMN experiment text, ADD COLUMN variant text, ADD COLUMN assignment text');
    await q.query('CREATE INDEX tasks_experiment ON orchestrator.tasks (tenant, agent, experiment, variant) WHERE experiment IS NOT NULL');
    await q.query('CREATE INDEX feedback_tenant_score_created ON orchestrator.feedback (tenant, score, created_at DESC)');
    await q.query('CREATE INDEX feedback_task ON orchestrator.feedback (task_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX orchestrator.feedback_task');
    await q.query('DROP INDEX orchestrator.feedback_tenant_score_created');
    await q.query('DROP INDEX orchestrator.tasks_experiment');
    await q.query('ALTER TABLE orchestrator.tasks DROP COLUMN assignment, DROP COLUMN variant, DROP COLUMN experiment');
  }
}
