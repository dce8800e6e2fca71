import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dropAppendOnly, makeAppendOnly } from '@keel/persistence';

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
    await makeAppendOnly(q, 'tool_executor.audit_log');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE tool_executor.audit_log');
    await dropAppendOnly(q, 'tool_executor.audit_log');
  }
}
