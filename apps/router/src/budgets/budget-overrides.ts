import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { Principal } from '@keel/contracts';
import { DataSource } from '@keel/persistence';
import { RouterAuditLog } from '../audit/audit-log';
import { scopeKey } from './budget.policy';
import type { BudgetOverride } from './budget.policy';

export const OVERRIDE_MAX_DAYS = 90;
/** How long a replica reuses a tenant's active overrides before reading them again (its own changes apply at once). */
export const OVERRIDES_CACHE_MS = 5_000;

/** `PUT /v1/admin/budgets/overrides` body. */
export const SetOverrideSchema = z.object({
  scope: z.enum(['tenant', 'user']),
  userId: z.string().min(1).max(200).optional(),
  period: z.enum(['day', 'month']),
  limitUsd: z.number().finite().nonnegative(),
  expiresAt: z.iso.datetime({ offset: true, error: 'expiresAt is an ISO 8601 date-time with a zone, e.g. 2025-01-31T00:00:00Z' }),
  reason: z.string().trim().min(1, 'reason is 1 to 500 characters').max(500, 'reason is 1 to 500 characters'),
}).strict().refine((o) => (o.scope === 'user') === (o.userId !== undefined), {
  message: 'userId is required with scope "user" and not allowed with scope "tenant"',
  path: ['userId'],
});
export type SetOverride = z.output<typeof SetOverrideSchema>;

/** What the API answers for a stored override. */
export interface StoredOverride {
  id: string;
  tenant: string;
  scope: 'tenant' | 'user';
  userId: string | null;
  period: 'day' | 'month';
  limitUsd: number;
  expiresAt: string;
  reason: string;
  createdBy: { keyId: string | null; name: string | null };
  createdAt: string;
}

type Row = {
  id: string; tenant: string; scope_kind: 'tenant' | 'user'; user_id: string | null; scope: string; period: 'day' | 'month'; limit_usd: string;
  expires_at: Date; reason: string; created_by_key_id: string | null; created_by_name: string | null; created_at: Date;
};

const toStored = (r: Row): StoredOverride => ({
  id: r.id, tenant: r.tenant, scope: r.scope_kind, userId: r.user_id, period: r.period, limitUsd: Number(r.limit_usd), expiresAt: r.expires_at.toISOString(),
  reason: r.reason, createdBy: { keyId: r.created_by_key_id, name: r.created_by_name }, createdAt: r.created_at.toISOString(),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Budget overrides (`router.budget_overrides`): an admin's temporary limit for
 * the tenant's or one user's day or month budget, used by the budget guard
 * instead of the configured limit until it expires. Every change writes its
 * `router.audit_log` row in the same transaction.
 */
@Injectable()
export class BudgetOverrides {
  private readonly cache = new Map<string, { at: number; overrides: BudgetOverride[] }>();

  constructor(@Inject(DataSource) private readonly db: DataSource, @Inject(RouterAuditLog) private readonly audit: RouterAuditLog) {}

  /** The tenant's overrides that have not expired (cached for OVERRIDES_CACHE_MS; expiry itself is checked at each use). */
  async active(tenant: string, now = Date.now()): Promise<BudgetOverride[]> {
    const hit = this.cache.get(tenant);
    if (hit && now - hit.at < OVERRIDES_CACHE_MS) return hit.overrides;
    const rows: Pick<Row, 'scope' | 'period' | 'limit_usd' | 'expires_at'>[] = await this.db.query(
      'SELECT scope, period, limit_usd, expires_at FROM router.budget_overrides WHERE tenant = $1 AND expires_at > now()', [tenant]);
    const overrides = rows.map((r) => ({ scope: r.scope, period: r.period, limitUsd: Number(r.limit_usd), expiresAt: r.expires_at }));
    this.cache.set(tenant, { at: now, overrides });
    return overrides;
  }

  async list(tenant: string): Promise<StoredOverride[]> {
    const rows: Row[] = await this.db.query(
      'SELECT * FROM router.budget_overrides WHERE tenant = $1 AND expires_at > now() ORDER BY created_at DESC, id', [tenant]);
    return rows.map(toStored);
  }

  /** Stores (or replaces) the override of the principal's tenant for that scope and period. */
  async set(principal: Principal, o: SetOverride): Promise<StoredOverride> {
    const scope = o.scope === 'user' ? scopeKey('user', principal.tenant, o.userId!) : scopeKey('tenant', principal.tenant);
    const stored = await this.db.transaction(async (m) => {
      const previous: Row[] = await m.query('SELECT * FROM router.budget_overrides WHERE scope = $1 AND period = $2 FOR UPDATE', [scope, o.period]);
      const rows: Row[] = await m.query(
        `INSERT INTO router.budget_overrides (id, tenant, scope_kind, user_id, scope, period, limit_usd, expires_at, reason, created_by_key_id, created_by_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11)
         ON CONFLICT (scope, period) DO UPDATE SET id = EXCLUDED.id, limit_usd = EXCLUDED.limit_usd, expires_at = EXCLUDED.expires_at, reason = EXCLUDED.reason,
           created_by_key_id = EXCLUDED.created_by_key_id, created_by_name = EXCLUDED.created_by_name, created_at = now()
         RETURNING *`,
        [randomUUID(), principal.tenant, o.scope, o.userId ?? null, scope, o.period, String(o.limitUsd), o.expiresAt, o.reason, principal.keyId, principal.name],
      );
      const row = toStored(rows[0]);
      const prev = previous[0] && previous[0].expires_at.getTime() > Date.now() ? toStored(previous[0]) : null;
      await this.audit.record(m, {
        tenant: principal.tenant, actor: principal, action: 'budget.override_set', target: scope,
        details: {
          id: row.id, scope: o.scope, ...(o.userId ? { userId: o.userId } : {}), period: o.period, limitUsd: row.limitUsd, expiresAt: row.expiresAt, reason: o.reason,
          replaced: prev ? { id: prev.id, limitUsd: prev.limitUsd, expiresAt: prev.expiresAt } : null,
        },
      });
      return row;
    });
    this.cache.delete(principal.tenant);
    return stored;
  }

  /** Removes one of the principal's tenant's overrides; false when there is none with that id (or it is another tenant's). */
  async remove(principal: Principal, id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const removed = await this.db.transaction(async (m) => {
      const [rows]: [Row[], number] = await m.query('DELETE FROM router.budget_overrides WHERE id = $1 AND tenant = $2 RETURNING *', [id, principal.tenant]);
      if (rows.length === 0) return false;
      const row = toStored(rows[0]);
      await this.audit.record(m, {
        tenant: principal.tenant, actor: principal, action: 'budget.override_removed', target: rows[0].scope,
        details: { id: row.id, scope: row.scope, ...(row.userId ? { userId: row.userId } : {}), period: row.period, limitUsd: row.limitUsd, expiresAt: row.expiresAt, reason: row.reason },
      });
      return true;
    });
    this.cache.delete(principal.tenant);
    return removed;
  }
}
