import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deadlines, escalation, signatures and notifications.
 * - `expires_at`: when a pending approval gate times out (NULL: no deadline,
 *   e.g. gates opened before this migration, and review records);
 *   `escalation_level` (0 = the first approvers, n = the n-th group of the
 *   agent's escalation chain) and `assigned_group`.
 * - status `expired`: nobody decided in time (terminal, the call does not run).
 * - `signature`: HMAC of the decision (gateId|revision|argsHash|decision|tenant).
 * - `notifications`: outbox of webhook posts and NATS messages, swept with
 *   retries and exponential backoff.
 */
export class Deadlines1764000000002 implements MigrationInterface {
  name = 'Deadlines1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE approval.gates
        ADD COLUMN expires_at timestamptz,
        ADD COLUMN escalation_level int NOT NULL DEFAULT 0,
        ADD COLUMN assigned_group text,
        ADD COLUMN signature text`);
    await q.query('ALTER TABLE approval.gates DROP CONSTRAINT gates_status_check');
    await q.query(`ALTER TABLE approval.gates ADD CONSTRAINT gates_status_check CHECK (status IN ('pending','approved','rejected','reviewed','expired'))`);
    await q.query(`CREATE INDEX gates_expiring ON approval.gates (expires_at) WHERE status = 'pending' AND kind = 'approve' AND expires_at IS NOT NULL`);
    await q.query('DROP INDEX approval.gates_unpublished');
    await q.query(`CREATE INDEX gates_unpublished ON approval.gates (decided_at) WHERE kind = 'approve' AND status IN ('approved','rejected','expired') AND published_at IS NULL`);
    await q.query(`
      CREATE TABLE approval.notifications (
        id bigserial PRIMARY KEY,
        tenant text NOT NULL,
        gate_id uuid,
        event text NOT NULL,
        channel text NOT NULL CHECK (channel IN ('webhook','nats')),
        target text NOT NULL,
        msg_id text,
        payload jsonb NOT NULL,
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        failed_at timestamptz,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX notifications_due ON approval.notifications (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE approval.notifications');
    await q.query('DROP INDEX approval.gates_unpublished');
    await q.query(`CREATE INDEX gates_unpublished ON approval.gates (decided_at) WHERE kind = 'approve' AND status IN ('approved','rejected') AND published_at IS NULL`);
    await q.query('DROP INDEX approval.gates_expiring');
    await q.query(`UPDATE approval.gates SET status = 'rejected' WHERE status = 'expired'`);
    await q.query('ALTER TABLE approval.gates DROP CONSTRAINT gates_status_check');
    await q.query(`ALTER TABLE approval.gates ADD CONSTRAINT gates_status_check CHECK (status IN ('pending','approved','rejected','reviewed'))`);
    await q.query('ALTER TABLE approval.gates DROP COLUMN expires_at, DROP COLUMN escalation_level, DROP COLUMN assigned_group, DROP COLUMN signature');
  }
}
