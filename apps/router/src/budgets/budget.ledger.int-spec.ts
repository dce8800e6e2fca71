import { randomUUID } from 'node:crypto';
import type { ChatMessage } from '@keel/contracts';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { ROUTER_MIGRATIONS } from '../migrations';
import { costUsd, DEFAULT_PRICES } from '../pricing/price-table';
import type { PriceTable } from '../pricing/price-table';
import { BudgetGuard } from './budget.guard';
import { BudgetLedger } from './budget.ledger';
import type { BudgetAlert } from './budget.ledger';
import { parseBudgetsConfig, resolveBudgets, scopeKey } from './budget.policy';
import { estimateCost } from './estimate';

// One input token of `test/dollar` costs exactly $1, so estimates and actuals are whole dollars.
const PRICES: PriceTable = {
  ...DEFAULT_PRICES,
  'test/dollar': { inputPerMTok: 1_000_000, outputPerMTok: 1_000_000, cachedInputPerMTok: 1_000_000 },
};
const ONE_DOLLAR = { inputTokens: 1, outputTokens: 0 };
const NOW = new Date('2026-11-24T12:00:00Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('BudgetLedger on real Postgres', () => {
  let pg: TestDatabase;
  let db: DataSource;
  let alerts: BudgetAlert[];
  let ledger: BudgetLedger;

  beforeAll(async () => {
    pg = await createTestDatabase();
    db = await openDatabase({ url: pg.url, schema: 'router', migrations: ROUTER_MIGRATIONS, poolSize: 20 });
    expect(await migrate(db, 'router')).toEqual(ROUTER_MIGRATIONS.map((m) => m.name));
    ledger = new BudgetLedger(db, { prices: PRICES, onAlert: (a) => void alerts.push(a) });
  });
  beforeEach(() => {
    alerts = [];
  });
  afterAll(async () => {
    await db.destroy();
    await pg.drop();
  });

  const tenantPlan = (tenant: string, yaml: string, now = NOW) =>
    resolveBudgets(parseBudgetsConfig(yaml, 'budgets.yaml'), { tenant, agent: 'demo' }, { now });
  const spendRow = async (scope: string, period: string) =>
    (await db.query<{ limit_usd: string; spent_usd: string; reserved_usd: string; alerted_80: boolean }[]>(
      'SELECT limit_usd, spent_usd, reserved_usd, alerted_80 FROM router.budget_spend WHERE scope = $1 AND period = $2', [scope, period]))[0];
  const recorded = async (tenant: string) =>
    (await db.query<{ n: number; total: string }[]>('SELECT count(*)::int AS n, coalesce(sum(cost_usd), 0) AS total FROM router.usage WHERE tenant = $1', [tenant]))[0];

  it('lets exactly 10 of 100 concurrent $1 calls through a $10 daily budget, and alerts at 80 % once', async () => {
    const tenant = `t-${randomUUID()}`;
    const plan = tenantPlan(tenant, `tenants: {"${tenant}": {daily: {limitUsd: 10}}}`);
    const outcomes = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const taskId = `task-${i}`;
      const r = await ledger.reserve({ taskId, lines: plan.lines, estimateUsd: 1 });
      if (!r.ok) return r;
      await sleep(Math.random() * 20); // the model call
      await ledger.settle(r.reservation, { tenant, agent: 'demo', taskId, step: 1, model: 'test/dollar', usage: ONE_DOLLAR });
      return r;
    }));

    expect(outcomes.filter((o) => o.ok)).toHaveLength(10);
    const refused = outcomes.filter((o) => !o.ok);
    expect(refused).toHaveLength(90);
    expect(refused[0]).toMatchObject({ exhausted: [{ scope: `tenant:${tenant}`, period: 'day:2026-11-24', limitUsd: 10 }] });
    const usage = await recorded(tenant);
    expect(usage.n).toBe(10);
    expect(Number(usage.total)).toBeLessThanOrEqual(10);
    expect(Number(usage.total)).toBe(10);
    expect(await spendRow(`tenant:${tenant}`, 'day:2026-11-24')).toEqual({ limit_usd: '10.0000000000', spent_usd: '10.0000000000', reserved_usd: '0.0000000000', alerted_80: true });
    expect(alerts).toEqual([{ scope: `tenant:${tenant}`, period: 'day:2026-11-24', threshold: 0.8, limitUsd: 10, spentUsd: 8, taskId: expect.any(String), tenant }]);
    expect(await ledger.remaining(`tenant:${tenant}`, NOW)).toEqual([{ scope: `tenant:${tenant}`, period: 'day:2026-11-24', limitUsd: 10, spentUsd: 10, reservedUsd: 0, remainingUsd: 0 }]);
    // At 100 % the hard stop holds for the next call too.
    expect((await ledger.reserve({ taskId: 'late', lines: plan.lines, estimateUsd: 0.01 })).ok).toBe(false);
  });

  it('releases a failed call’s reservation once, and a settle after release still records the spend', async () => {
    const tenant = `t-${randomUUID()}`;
    const scope = scopeKey('tenant', tenant);
    const plan = tenantPlan(tenant, `tenants: {"${tenant}": {daily: {limitUsd: 2}}}`);
    const a = await ledger.reserve({ taskId: 'a', lines: plan.lines, estimateUsd: 1 });
    const b = await ledger.reserve({ taskId: 'b', lines: plan.lines, estimateUsd: 1 });
    if (!a.ok || !b.ok) throw new Error('expected both reservations to fit');
    expect((await ledger.reserve({ taskId: 'c', lines: plan.lines, estimateUsd: 1 })).ok).toBe(false);
    expect(await ledger.release(a.reservation)).toBe(true);
    expect(await ledger.release(a.reservation)).toBe(false);
    expect(await spendRow(scope, 'day:2026-11-24')).toMatchObject({ reserved_usd: '1.0000000000', spent_usd: '0.0000000000' });
    // The freed dollar is usable again.
    const c = await ledger.reserve({ taskId: 'c', lines: plan.lines, estimateUsd: 1 });
    expect(c.ok).toBe(true);

    // Settling twice records once; settling a released reservation still charges what was spent.
    const settle = { tenant, agent: 'demo', taskId: 'b', step: 1, model: 'test/dollar', usage: ONE_DOLLAR };
    expect(await ledger.settle(b.reservation, settle)).toMatchObject({ settled: true, costUsd: 1 });
    expect(await ledger.settle(b.reservation, settle)).toMatchObject({ settled: false });
    expect(await ledger.release(b.reservation)).toBe(false);
    expect(await spendRow(scope, 'day:2026-11-24')).toMatchObject({ reserved_usd: '1.0000000000', spent_usd: '1.0000000000' });
    expect(await recorded(tenant)).toEqual({ n: 1, total: '1.0000000000' });
  });

  it('sweeps reservations a dead router left behind', async () => {
    const tenant = `t-${randomUUID()}`;
    const plan = tenantPlan(tenant, `tenants: {"${tenant}": {daily: {limitUsd: 1}, monthly: {limitUsd: 5}}}`);
    const r = await ledger.reserve({ taskId: 'x', lines: plan.lines, estimateUsd: 1 });
    expect(r.ok).toBe(true);
    expect(await ledger.releaseStale(60_000)).toBe(0);
    await db.query(`UPDATE router.budget_reservations SET created_at = now() - interval '1 hour' WHERE task_id = 'x'`);
    expect(await ledger.releaseStale(60_000)).toBeGreaterThanOrEqual(1);
    expect(await spendRow(`tenant:${tenant}`, 'day:2026-11-24')).toMatchObject({ reserved_usd: '0.0000000000' });
    expect(await spendRow(`tenant:${tenant}`, 'month:2026-11')).toMatchObject({ reserved_usd: '0.0000000000' });
  });

  it('keeps a held (batch) reservation through the sweep until its hold ends, and bills it at the batch price', async () => {
    const tenant = `t-${randomUUID()}`;
    const plan = tenantPlan(tenant, `tenants: {"${tenant}": {daily: {limitUsd: 1}}}`);
    const r = await ledger.reserve({ taskId: 'held', lines: plan.lines, estimateUsd: 0.5 });
    if (!r.ok) throw new Error('expected a reservation');
    await ledger.hold(r.reservation, new Date(Date.now() + 3_600_000));
    await db.query(`UPDATE router.budget_reservations SET created_at = now() - interval '1 hour' WHERE task_id = 'held'`);
    await ledger.releaseStale(60_000);
    expect(await spendRow(`tenant:${tenant}`, 'day:2026-11-24')).toMatchObject({ reserved_usd: '0.5000000000' });
    const usage = { inputTokens: 1_000_000, outputTokens: 0 };
    const settled = await ledger.settle(r.reservation, { tenant, agent: 'a', taskId: 'held', step: 1, model: 'openai/gpt-4o-mini', usage, batch: true });
    expect(settled.costUsd).toBeCloseTo(0.075, 10);
    expect(await spendRow(`tenant:${tenant}`, 'day:2026-11-24')).toMatchObject({ reserved_usd: '0.0000000000', spent_usd: '0.0750000000' });
  });

  it('enforces the day and the month together', async () => {
    const tenant = `t-${randomUUID()}`;
    const yaml = `tenants: {"${tenant}": {daily: {limitUsd: 2}, monthly: {limitUsd: 3}}}`;
    const run = async (now: Date) => {
      const r = await ledger.reserve({ taskId: 't', lines: tenantPlan(tenant, yaml, now).lines, estimateUsd: 1 });
      if (r.ok) await ledger.settle(r.reservation, { tenant, agent: 'demo', taskId: 't', step: 1, model: 'test/dollar', usage: ONE_DOLLAR });
      return r;
    };
    const day1 = new Date('2026-11-24T10:00:00Z');
    const day2 = new Date('2026-11-25T10:00:00Z');
    expect((await run(day1)).ok).toBe(true);
    expect((await run(day1)).ok).toBe(true);
    expect(await run(day1)).toMatchObject({ ok: false, exhausted: [{ period: 'day:2026-11-24' }] });
    expect((await run(day2)).ok).toBe(true);
    expect(await run(day2)).toMatchObject({ ok: false, exhausted: [{ period: 'month:2026-11' }] });
    // A refused reservation leaves nothing reserved on the rows that had room.
    expect(await spendRow(`tenant:${tenant}`, 'day:2026-11-25')).toMatchObject({ spent_usd: '1.0000000000', reserved_usd: '0.0000000000' });
    expect((await run(new Date('2026-12-01T00:00:00Z'))).ok).toBe(true);
    expect(Number((await recorded(tenant)).total)).toBe(4);
  });

  it('records usage.costUsd as the price table applied to the provider-reported tokens, per call and per task', async () => {
    const tenant = `t-${randomUUID()}`;
    const taskId = randomUUID();
    const plain = new BudgetLedger(db); // the bundled price table
    const calls = [
      { model: 'openai/gpt-4o', usage: { inputTokens: 1234, cachedInputTokens: 200, outputTokens: 567 } },
      { model: 'anthropic/claude-sonnet-4', usage: { inputTokens: 3000, outputTokens: 10 } },
    ];
    let step = 0;
    for (const call of calls) {
      const r = await plain.reserve({ taskId, lines: [], estimateUsd: 0 });
      if (!r.ok) throw new Error('no budget, always fits');
      const settled = await plain.settle(r.reservation, { tenant, userId: 'bob', agent: 'demo', taskId, step: ++step, ...call });
      expect(settled.costUsd).toBe(costUsd(call.model, call.usage, DEFAULT_PRICES));
    }
    const rows = await db.query<{ model: string; cost_usd: string; input_tokens: number; cached_input_tokens: number; output_tokens: number; user_id: string }[]>(
      'SELECT model, cost_usd, input_tokens, cached_input_tokens, output_tokens, user_id FROM router.usage WHERE task_id = $1 ORDER BY step', [taskId]);
    expect(rows.map((r) => Number(r.cost_usd))).toEqual(calls.map((c) => costUsd(c.model, c.usage)));
    // (1034 × 2.5 + 200 × 1.25 + 567 × 10) / 1M
    expect(rows[0]).toMatchObject({ cost_usd: '0.0085050000', input_tokens: 1234, cached_input_tokens: 200, output_tokens: 567, user_id: 'bob' });
    const total = await plain.taskUsage(taskId);
    expect(total).toEqual({ calls: 2, inputTokens: 4234, cachedInputTokens: 200, outputTokens: 577, costUsd: 0.017655 });
  });

  describe('BudgetGuard', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'What is 2+2?' }];

    it('rejects an estimate above the per-request cap before reserving anything', async () => {
      const tenant = `t-${randomUUID()}`;
      const config = parseBudgetsConfig(`tenants: {"${tenant}": {daily: {limitUsd: 100}, perRequestCapUsd: 0.01}}`, 'b.yaml');
      const guard = new BudgetGuard(config, ledger, { prices: PRICES });
      const admission = await guard.admit({ tenant, agent: 'demo', taskId: 'cap', model: 'openai/gpt-4o', messages, now: NOW });
      expect(admission).toMatchObject({ ok: false, reason: 'per_request_cap', scope: `tenant:${tenant}` });
      expect(await db.query('SELECT 1 FROM router.budget_spend WHERE scope = $1', [`tenant:${tenant}`])).toEqual([]);
      expect(await db.query(`SELECT 1 FROM router.budget_reservations WHERE task_id = 'cap'`)).toEqual([]);
      // The same call within the cap goes through.
      expect(await guard.admit({ tenant, agent: 'demo', taskId: 'cap2', model: 'openai/gpt-4o-mini', messages, now: NOW })).toMatchObject({ ok: true, model: 'openai/gpt-4o-mini' });
    });

    it('downgrades when the policy says so and the cheaper model fits; rejects when nothing fits', async () => {
      const tenant = `t-${randomUUID()}`;
      const config = parseBudgetsConfig(
        `users: {"${tenant}": {bob: {daily: {limitUsd: 0.01}, onExceed: downgrade, downgradeModel: openai/gpt-4o-mini}}}`, 'b.yaml');
      const guard = new BudgetGuard(config, ledger, { prices: PRICES });
      const big = estimateCost({ model: 'openai/gpt-4o', messages, prices: PRICES });
      const small = estimateCost({ model: 'openai/gpt-4o-mini', messages, prices: PRICES });
      expect(big.costUsd).toBeGreaterThan(0.01);
      expect(small.costUsd).toBeLessThan(0.01);

      const first = await guard.admit({ tenant, userId: 'bob', agent: 'demo', taskId: 'd', model: 'openai/gpt-4o', messages, now: NOW });
      expect(first).toMatchObject({ ok: true, model: 'openai/gpt-4o-mini', downgradedFrom: 'openai/gpt-4o', estimate: { costUsd: small.costUsd } });
      if (!first.ok) throw new Error('unreachable');
      await ledger.settle(first.reservation, { tenant, userId: 'bob', agent: 'demo', taskId: 'd', step: 1, model: first.model, usage: { inputTokens: 0, outputTokens: 0 } });
      expect(await ledger.remaining(scopeKey('user', tenant, 'bob'), NOW)).toMatchObject([{ limitUsd: 0.01, spentUsd: 0, reservedUsd: 0 }]);

      // Spend the rest: now neither model fits, and the downgrade is not taken twice.
      await db.query('UPDATE router.budget_spend SET spent_usd = limit_usd WHERE scope = $1', [scopeKey('user', tenant, 'bob')]);
      const second = await guard.admit({ tenant, userId: 'bob', agent: 'demo', taskId: 'e', model: 'openai/gpt-4o', messages, now: NOW });
      expect(second).toMatchObject({ ok: false, reason: 'budget_exhausted', scope: `user:${tenant}:bob`, period: 'day:2026-11-24' });
      expect(second.ok ? '' : second.message).toMatch(/already downgraded from openai\/gpt-4o/);
    });
  });
});
