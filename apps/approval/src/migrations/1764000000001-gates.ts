import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Gates: one row per proposed tool call that needs a person, keyed by
 * `${taskId}:${step}:${index}` so a step that asks twice (a retry, a resume)
 * finds its gate instead of opening another. A decision is bound to the
 * arguments it was made for (`args_hash`). `revision` counts re-openings, so
 * each decision gets its own Nats-Msg-Id; `published_at` is the outbox mark
 * for the `decided` event. `audit_log` is append-only.
 */
export class Gates1764000000001 implements MigrationInterface {
  name = 'Gates1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE approval.gates (
        id uuid PRIMARY KEY,
        gate_key text NOT NULL UNIQUE,
        tenant text NOT NULL,
        task_id text NOT NULL,
        step int NOT NULL,
        call_index int NOT NULL,
        agent text NOT NULL,
        tool text NOT NULL,
        arguments jsonb NOT NULL,
        args_hash text NOT NULL,
        tier text NOT NULL CHECK (tier IN ('auto','review','approve')),
        reason text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('approve','review')),
        status text NOT NULL CHECK (status IN ('pending','approved','rejected','reviewed')),
        decided_by text,
        comment text,
        revision int NOT NULL DEFAULT 0,
        published_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        decided_at timestamptz
      )`);
    await q.query('CREATE INDEX gates_tenant_status_created ON approval.gates (tenant, status, created_at DESC)');
    await q.query('CREATE INDEX gates_tenant_created ON approval.gates (tenant, created_at DESC)');
    await q.query(`CREATE INDEX gates_unpublished ON approval.gates (decided_at) WHERE kind = 'approve' AND status IN ('approved','rejected') AND published_at IS NULL`);
    await q.query(`
      CREATE TABLE approval.audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        tenant text NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        gate_id uuid,
        details jsonb NOT NULL DEFAULT '{}'
      )`);
    await q.query('CREATE INDEX audit_log_gate ON approval.audit_log (gate_id, id)');
    // Append-only by construction: an UPDATE or DELETE (a bug, a hand-run query) fails loudly.
    await q.query(`
      CREATE FUNCTION approval.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'approval.audit_log is append-only'; END $$`);
    await q.query(`
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON approval.audit_log
      FOR EACH ROW EXECUTE FUNCTION approval.audit_log_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE approval.audit_log');
    await q.query('DROP FUNCTION approval.audit_log_append_only()');
    await q.query('DROP TABLE approval.gates');
  }
}
