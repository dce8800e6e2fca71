import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The batch path (OpenAI Batch API):
 * - `batch_items`: one model turn per task step (`id` = `<taskId>:<step>`,
 *   the batch line's custom_id), queued → submitted → completed | failed.
 *   `announced_at` is the outbox mark: a settled item is announced to the
 *   orchestrator until this is set, so a crash cannot strand a parked task.
 * - `batches`: the provider batches Keel created and still polls.
 * - `budget_reservations.hold_until`: a batch turn's reservation outlives the
 *   10-minute sweep of abandoned realtime reservations.
 * - `usage.batch`: billed at the batch price.
 */
export class Batch1764000000030 implements MigrationInterface {
  name = 'Batch1764000000030';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE router.batch_items (
        id text PRIMARY KEY,
        tenant text NOT NULL,
        task_id text NOT NULL,
        step int NOT NULL,
        provider text NOT NULL,
        model text NOT NULL,
        request jsonb NOT NULL,
        body jsonb NOT NULL,
        admission jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'submitted', 'completed', 'failed')),
        submit_attempts int NOT NULL DEFAULT 0,
        batch_id text,
        response jsonb,
        error jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        submitted_at timestamptz,
        settled_at timestamptz,
        announced_at timestamptz
      )`);
    await q.query(`CREATE INDEX batch_items_queued ON router.batch_items (provider, created_at) WHERE status = 'queued'`);
    await q.query('CREATE INDEX batch_items_batch ON router.batch_items (batch_id)');
    await q.query(`CREATE INDEX batch_items_unannounced ON router.batch_items (settled_at) WHERE settled_at IS NOT NULL AND announced_at IS NULL`);
    await q.query(`
      CREATE TABLE router.batches (
        id text PRIMARY KEY,
        provider text NOT NULL,
        status text NOT NULL,
        input_file_id text NOT NULL,
        item_count int NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        checked_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    await q.query('CREATE INDEX batches_open ON router.batches (checked_at) WHERE finished_at IS NULL');
    await q.query('ALTER TABLE router.budget_reservations ADD COLUMN hold_until timestamptz');
    await q.query('ALTER TABLE router.usage ADD COLUMN batch boolean NOT NULL DEFAULT false');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE router.usage DROP COLUMN batch');
    await q.query('ALTER TABLE router.budget_reservations DROP COLUMN hold_until');
    await q.query('DROP TABLE router.batches');
    await q.query('DROP TABLE router.batch_items');
  }
}
