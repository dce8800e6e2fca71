import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit log joins the merged `GET /v1/admin/audit` (docs/audit.md):
 * `trace_id` of the span that wrote each row (NULL for older rows), an index
 * for a tenant's newest rows, and TRUNCATE refused like UPDATE and DELETE.
 */
export class AuditTrace1764000000004 implements MigrationInterface {
  name = 'AuditTrace1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE approval.audit_log ADD COLUMN trace_id text');
    await q.query('CREATE INDEX audit_log_tenant_at ON approval.audit_log (tenant, at DESC, id DESC)');
    await q.query(`CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON approval.audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION approval.audit_log_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TRIGGER audit_log_no_truncate ON approval.audit_log');
    await q.query('DROP INDEX approval.audit_log_tenant_at');
    await q.query('ALTER TABLE approval.audit_log DROP COLUMN trace_id');
  }
}
