import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dropAppendOnly, makeAppendOnly } from '@keel/persistence';

/**
 * API key administration and the audit log (docs/api-keys.md).
 *
 * `audit_log` is append-only: the service's database role owns the table, so
 * REVOKE would not bind it; instead triggers refuse UPDATE, DELETE and
 * TRUNCATE for everyone. Rows are written in the same transaction as the
 * change they record, and never carry a secret (a key is named by its prefix).
 *
 * `api_keys.last_used_at` is not added: a write per authenticated request is
 * not worth it for a listing nicety.
 */
export class AuditLog1764000000300 implements MigrationInterface {
  name = 'AuditLog1764000000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE orchestrator.audit_log (
        id bigserial PRIMARY KEY,
        tenant text NOT NULL,
        actor_key_id uuid,
        actor_name text,
        action text NOT NULL,
        target text,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        trace_id text,
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX audit_log_tenant_at ON orchestrator.audit_log (tenant, at DESC, id DESC)');
    await q.query('CREATE INDEX audit_log_tenant_action ON orchestrator.audit_log (tenant, action, at DESC, id DESC)');
    await makeAppendOnly(q, 'orchestrator.audit_log');
    // Listing a tenant's keys.
    await q.query('CREATE INDEX api_keys_tenant ON orchestrator.api_keys (tenant, created_at DESC)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX orchestrator.api_keys_tenant');
    await q.query('DROP TABLE orchestrator.audit_log');
    await dropAppendOnly(q, 'orchestrator.audit_log');
  }
}
