import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tool-executor's audit log (docs/audit.md): one row when a high-risk
 * call (permission write or destructive, or risk tier approve, or run through
 * an approval gate) is claimed in the ledger, and one when it is settled,
 * each written by the same statement as the ledger change. Arguments are
 * never stored, only their hash.
 *
 * Append-only: the service's role owns the table, so REVOKE would not bind
 * it; triggers refuse UPDATE, DELETE and TRUNCATE for everyone.
 */
export class AuditLog1764000000004 implements MigrationInterface {
  name = 'AuditLog1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE tool_executor.audit_log (
        id bigserial PRIMARY KEY,
        tenant text NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        trace_id text,
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX audit_log_tenant_at ON tool_executor.audit_log (tenant, at DESC, id DESC)');
    await q.query('CREATE INDEX audit_log_target ON tool_executor.audit_log (target, action)');
    await q.query(`
      CREATE FUNCTION tool_executor.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'tool_executor.audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON tool_executor.audit_log
      FOR EACH ROW EXECUTE FUNCTION tool_executor.audit_log_append_only()`);
    await q.query(`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON tool_executor.audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION tool_executor.audit_log_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE tool_executor.audit_log');
    await q.query('DROP FUNCTION tool_executor.audit_log_append_only()');
  }
}
