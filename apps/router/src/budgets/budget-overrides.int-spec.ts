import { randomUUID } from 'node:crypto';
import type { ChatMessage, Principal } from '@keel/contracts';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import type { AuthedRequest } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { RouterAuditLog } from '../audit/audit-log';
import type { Queryable, RouterAuditEntry } from '../audit/audit-log';
import { CacheHttpController } from '../cache/cache.http.controller';
import { ResponseCache } from '../cache/response-cache';
import { ROUTER_MIGRATIONS } from '../migrations';
import { DEFAULT_PRICES } from '../pricing/price-table';
import type { PriceTable } from '../pricing/price-table';
import { BudgetGuard } from './budget.guard';
import { BudgetLedger } from './budget.ledger';
import { parseBudgetsConfig } from './budget.policy';
import { BudgetOverrides } from './budget-overrides';
import { BudgetOverridesHttpController } from './budget-overrides.http.controller';

// `test/dollar` input tokens cost $1 each; with no output allowance every estimate is a few dollars.
const PRICES: PriceTable = { ...DEFAULT_PRICES, 'test/dollar': { inputPerMTok: 1_000_000, outputPerMTok: 1_000_000, cachedInputPerMTok: 1_000_000 } };
const messages: ChatMessage[] = [{ role: 'user', content: 'hi' }];
const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();

/** Issue 11 item 4: budget overrides (policy and API) and the router's append-only audit log, on real Postgres. */
describe('budget overrides and router.audit_log on real Postgres', () => {
  let pg: TestDatabase;
  let db: DataSource;
  let audit: RouterAuditLog;
  let overrides: BudgetOverrides;
  let ledger: BudgetLedger;
  const tenant = `t-${randomUUID()}`;
  const admin: Principal = { keyId: randomUUID(), tenant, role: 'admin', name: 'ops-lead' };
  const auditRows = async (t = tenant) => db.query<{ action: string; actor_key_id: string; actor_name: string; target: string; details: Record<string, unknown> }[]>(
    'SELECT action, actor_key_id, actor_name, target, details FROM router.audit_log WHERE tenant = $1 ORDER BY id', [t]);

  /** An audit log that fails after writing: the change it records must roll back with it. */
  class FailingAudit extends RouterAuditLog {
    override async record(q: Queryable, entry: RouterAuditEntry): Promise<void> {
      await super.record(q, entry);
      throw new Error('audit write failed');
    }
  }

  beforeAll(async () => {
    pg = await createTestDatabase();
    db = await openDatabase({ url: pg.url, schema: 'router', migrations: ROUTER_MIGRATIONS });
    await migrate(db, 'router');
    audit = new RouterAuditLog(db);
    overrides = new BudgetOverrides(db, audit);
    ledger = new BudgetLedger(db, { prices: PRICES });
  });
  afterAll(async () => {
    await db.destroy();
    await pg.drop();
  });

  it('PUT stores an override and audits it with the admin as actor; GET lists active ones of the tenant; DELETE removes and audits', async () => {
    const api = new BudgetOverridesHttpController(overrides);
    const req = { principal: admin } as AuthedRequest;
    const stored = await api.set(req, { scope: 'user', userId: 'bob', period: 'day', limitUsd: 25, expiresAt: inDays(1), reason: 'demo day' });
    expect(stored).toMatchObject({ tenant, scope: 'user', userId: 'bob', period: 'day', limitUsd: 25, reason: 'demo day', createdBy: { keyId: admin.keyId, name: 'ops-lead' } });
    const other = await new BudgetOverridesHttpController(overrides).set({ principal: { ...admin, tenant: `${tenant}-other` } } as AuthedRequest,
      { scope: 'tenant', period: 'month', limitUsd: 1, expiresAt: inDays(2), reason: 'other tenant' });
    expect((await api.list(req)).items.map((o) => o.id)).toEqual([stored.id]);
    // Replacing the same scope and period keeps one override.
    const replaced = await api.set(req, { scope: 'user', userId: 'bob', period: 'day', limitUsd: 30, expiresAt: inDays(1), reason: 'more' });
    expect((await api.list(req)).items.map((o) => [o.id, o.limitUsd])).toEqual([[replaced.id, 30]]);
    // Another tenant's override is not found here.
    await expect(api.remove(req, other.id)).rejects.toMatchObject({ code: 'not_found' });
    await expect(api.remove(req, 'not-a-uuid')).rejects.toMatchObject({ code: 'not_found' });
    await api.remove(req, replaced.id);
    expect((await api.list(req)).items).toEqual([]);
    const rows = await auditRows();
    expect(rows.map((r) => r.action)).toEqual(['budget.override_set', 'budget.override_set', 'budget.override_removed']);
    expect(rows[0]).toMatchObject({ actor_key_id: admin.keyId, actor_name: 'ops-lead', target: `user:${tenant}:bob`, details: { id: stored.id, scope: 'user', userId: 'bob', period: 'day', limitUsd: 25, reason: 'demo day', replaced: null } });
    expect(rows[1].details).toMatchObject({ limitUsd: 30, replaced: { id: stored.id, limitUsd: 25 } });
    expect(rows[2].details).toMatchObject({ id: replaced.id, limitUsd: 30 });
  });

  it('refuses bad bodies: negative limits, past or far expiry, a missing reason or userId', async () => {
    const api = new BudgetOverridesHttpController(overrides);
    const req = { principal: admin } as AuthedRequest;
    const ok = { scope: 'tenant', period: 'day', limitUsd: 1, expiresAt: inDays(1), reason: 'r' };
    for (const body of [{ ...ok, limitUsd: -1 }, { ...ok, expiresAt: inDays(-1) }, { ...ok, expiresAt: inDays(91) }, { ...ok, reason: '' }, { ...ok, reason: 'x'.repeat(501) },
      { ...ok, scope: 'user' }, { ...ok, userId: 'bob' }, { ...ok, period: 'week' }, { ...ok, extra: 1 }, { ...ok, expiresAt: 'tomorrow' }]) {
      await expect(api.set(req, body)).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });

  it('is atomic: when the audit row fails, no override is stored or removed', async () => {
    const failing = new BudgetOverrides(db, new FailingAudit(db));
    const t = `t-${randomUUID()}`;
    const principal = { ...admin, tenant: t };
    await expect(failing.set(principal, { scope: 'tenant', period: 'day', limitUsd: 5, expiresAt: inDays(1), reason: 'r' })).rejects.toThrow('audit write failed');
    expect(await overrides.list(t)).toEqual([]);
    const kept = await overrides.set(principal, { scope: 'tenant', period: 'day', limitUsd: 5, expiresAt: inDays(1), reason: 'r' });
    await expect(failing.remove(principal, kept.id)).rejects.toThrow('audit write failed');
    expect((await overrides.list(t)).map((o) => o.id)).toEqual([kept.id]);
    expect((await auditRows(t)).map((r) => r.action)).toEqual(['budget.override_set']);
  });

  it('the guard uses an active override instead of the configured limit, scoped to its tenant or user, until it expires', async () => {
    const t = `t-${randomUUID()}`;
    const config = parseBudgetsConfig(`tenants: {"${t}": {daily: {limitUsd: 1}}}\nusers: {"${t}": {"*": {daily: {limitUsd: 1}}}}`, 'b.yaml');
    const guard = new BudgetGuard(config, ledger, { prices: PRICES, maxOutputTokens: 1 });
    const admit = async (userId: string, over = overrides) => guard.admit({ tenant: t, userId, agent: 'a', taskId: randomUUID(), model: 'test/dollar', messages, overrides: await over.active(t) });
    // The estimate (a few dollars) does not fit the configured $1.
    expect(await admit('bob')).toMatchObject({ ok: false, reason: 'budget_exhausted' });
    // A tenant override alone is not enough: bob's own (configured) $1 still binds.
    const principal = { ...admin, tenant: t };
    await overrides.set(principal, { scope: 'tenant', period: 'day', limitUsd: 100, expiresAt: inDays(1), reason: 'launch' });
    expect(await admit('bob')).toMatchObject({ ok: false, scope: `user:${t}:bob` });
    await overrides.set(principal, { scope: 'user', userId: 'bob', period: 'day', limitUsd: 100, expiresAt: inDays(1), reason: 'launch' });
    const bob = await admit('bob');
    expect(bob).toMatchObject({ ok: true });
    if (bob.ok) await ledger.release(bob.reservation);
    // Scoped: alice (same tenant, no override of her own) is still refused; another tenant sees nothing of t's overrides.
    expect(await admit('alice')).toMatchObject({ ok: false, scope: `user:${t}:alice` });
    expect(await overrides.active(`${t}-x`)).toEqual([]);
    // A month override does not lift the day limit.
    const monthOnly = await guard.admit({ tenant: t, userId: 'carol', agent: 'a', taskId: 'm', model: 'test/dollar', messages,
      overrides: [{ scope: `user:${t}:carol`, period: 'month', limitUsd: 100, expiresAt: new Date(Date.now() + 60_000) }, { scope: `tenant:${t}`, period: 'day', limitUsd: 100, expiresAt: new Date(Date.now() + 60_000) }] });
    expect(monthOnly).toMatchObject({ ok: false, scope: `user:${t}:carol` });
    // Expired: the configured limit applies again (the guard checks expiry at each use, cached or not).
    const later = new Date(Date.now() + 2 * 86_400_000);
    const expired = await guard.admit({ tenant: t, userId: 'bob', agent: 'a', taskId: 'late', model: 'test/dollar', messages, overrides: await overrides.active(t), now: later });
    expect(expired).toMatchObject({ ok: false, reason: 'budget_exhausted' });
    await db.query(`UPDATE router.budget_overrides SET expires_at = now() - interval '1 second' WHERE tenant = $1`, [t]);
    expect(await new BudgetOverrides(db, audit).active(t)).toEqual([]);
  });

  it('cache invalidation writes cache.invalidated in the same transaction, and the table is append-only', async () => {
    const cache = new ResponseCache({ db, ttlMs: 60_000 });
    const logger = { info: () => undefined, warn: () => undefined } as unknown as Logger;
    const t = `t-${randomUUID()}`;
    const req = { principal: { ...admin, tenant: t } } as AuthedRequest;
    expect(await new CacheHttpController(cache, logger, db, audit).invalidate(req, { agent: 'demo' })).toEqual({ deleted: 0 });
    await expect(new CacheHttpController(cache, logger, db, new FailingAudit(db)).invalidate(req, {})).rejects.toThrow('audit write failed');
    expect(await auditRows(t)).toEqual([{ action: 'cache.invalidated', actor_key_id: admin.keyId, actor_name: 'ops-lead', target: 'agent:demo', details: { agent: 'demo', deleted: 0 } }]);
    await expect(db.query(`UPDATE router.audit_log SET action = 'x.y' WHERE tenant = $1`, [t])).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM router.audit_log WHERE tenant = $1', [t])).rejects.toThrow(/append-only/);
    await expect(db.query('TRUNCATE router.audit_log')).rejects.toThrow(/append-only/);
    const listed = await audit.list({ tenant: t, limit: 10 });
    expect(listed).toEqual([expect.objectContaining({ service: 'router', tenant: t, actor: 'ops-lead', actorKeyId: admin.keyId, action: 'cache.invalidated', target: 'agent:demo' })]);
  });
});
