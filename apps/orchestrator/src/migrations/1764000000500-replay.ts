import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Replay (docs/replay.md): a task re-run from a checkpoint of another records
 * which task it replays and from which step. Nullable: ordinary tasks, and
 * every task before this migration, have none. Adding nullable columns
 * without a default rewrites nothing. The partial index finds a task's
 * replays without weighing on ordinary tasks.
 */
export class Replay1764000000500 implements MigrationInterface {
  name = 'Replay1764000000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orchestrator.tasks ADD COLUMN replay_of uuid, ADD COLUMN replay_from_step int');
    await q.query('CREATE INDEX tasks_replay_of ON orchestrator.tasks (replay_of) WHERE replay_of IS NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX orchestrator.tasks_replay_of');
    await q.query('ALTER TABLE orchestrator.tasks DROP COLUMN replay_from_step, DROP COLUMN replay_of');
  }
}
