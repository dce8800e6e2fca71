import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dropAppendOnly, makeAppendOnly } from '@keel/persistence';

/**
 * Budget overrides and the router's audit log (docs/audit.md, apps/router/README.md "Budget overrides").
 *
 * - `budget_overrides`: an admin's temporary limit for a tenant's or a user's
 *   day or month budget, used instead of the configured limit until
 *   `expires_at`; one per (scope, period), a new PUT replaces it.
 * - `audit_log`: override changes and cache invalidations, each written in the
 *   same transaction as the change. Append-only: triggers refuse UPDATE,
 *   DELETE and TRUNCATE for every role, the service's own included.
 */
export class AuditOverrides1764000000040 implements MigrationInterface {
  name = 'AuditOverrides1764000000040';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE router.budget_overrides (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        scope_kind text NOT NULL CHECK (scope_kind IN ('tenant','user')),
        user_id text,
        scope text NOT NULL,
        period text NOT NULL CHECK (period IN ('day','month')),
        limit_usd numeric(20,10) NOT NULL CHECK (limit_usd >= 0),
        expires_at timestamptz NOT NULL,
        reason text NOT NULL,
        created_by_key_id text,
        created_by_name text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((scope_kind = 'user') = (user_id IS NOT NULL)),
        UNIQUE (scope, period)
      )`);
    await q.query('CREATE INDEX budget_overrides_tenant ON router.budget_overrides (tenant, expires_at)');
    await q.query(`
      CREATE TABLE router.audit_log (
        id bigserial PRIMARY KEY,
        tenant text NOT NULL,
        actor_key_id text,
        actor_name text,
        action text NOT NULL,
        target text,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        trace_id text,
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX audit_log_tenant_at ON router.audit_log (tenant, at DESC, id DESC)');
    await makeAppendOnly(q, 'router.audit_log');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE router.audit_log');
    await dropAppendOnly(q, 'router.audit_log');
    await q.query('DROP TABLE router.budget_overrides');
  }
}
