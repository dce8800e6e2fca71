import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { Subjects, taskIdFor } from '@keel/contracts';
import { FakeAnthropicServer, FakeOpenAiServer, keelClient, startKeel, waitFor } from '@keel/testing';
import type { KeelStack } from '@keel/testing';

/**
 * The router through the whole stack: real provider adapters against local
 * fakes of the OpenAI and Anthropic wire formats, the price table, budgets
 * enforced under concurrency, and the response cache's user scoping.
 */
describe('router end to end (five processes, fake providers)', () => {
  let keel: KeelStack;
  const openai = new FakeOpenAiServer();
  const anthropic = new FakeAnthropicServer();
  let db: Client;

  const { request, submit, task, waitStatus, events } = keelClient(() => keel);
  const terminal = (id: string) => waitStatus(id, ['succeeded', 'failed']);

  beforeAll(async () => {
    await openai.start();
    await anthropic.start();
    const dir = mkdtempSync(join(tmpdir(), 'keel-router-e2e-'));
    const agents = join(dir, 'agents');
    mkdirSync(agents);
    writeFileSync(join(agents, 'paid.yaml'), 'name: paid\nmodel: openai/gpt-4o-mini\n');
    writeFileSync(join(agents, 'fallback.yaml'), 'name: fallback\nmodel: openai/gpt-4o-mini\nrouting:\n  fallbacks: [anthropic/claude-3-5-haiku]\n');
    writeFileSync(join(agents, 'budgeted.yaml'), 'name: budgeted\nmodel: scripted/default\nscript:\n  - {content: "ok", usage: {inputTokens: 0, outputTokens: 1}}\n');
    writeFileSync(join(agents, 'cascade.yaml'), 'name: cascade\nmodel: scripted/cheap\nrouting:\n  cascade: {models: [scripted/cheap, scripted/strong], minConfidence: 0.7}\n');
    writeFileSync(join(agents, 'runaway.yaml'), 'name: runaway\nmodel: scripted/default\ntools: [calculator]\n');
    writeFileSync(join(agents, 'cached.yaml'), 'name: cached\nmodel: scripted/default\ncache: true\n');
    // Scripted calls cost exactly $1 per output token here, so "a budget that allows 10" is $10.
    writeFileSync(join(dir, 'prices.json'), JSON.stringify({ models: {
      'openai/gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6, cachedInputPerMTok: 0.075 },
      'anthropic/claude-3-5-haiku': { inputPerMTok: 0.8, outputPerMTok: 4, cachedInputPerMTok: 0.08 },
      'scripted/*': { inputPerMTok: 0, outputPerMTok: 1_000_000, cachedInputPerMTok: 0 },
    } }));
    writeFileSync(join(dir, 'budgets.yaml'), 'tenants:\n  budgeted:\n    daily: {limitUsd: 10}\n');
    keel = await startKeel({
      agentsDir: agents,
      env: {
        OPENAI_BASE_URL: openai.baseUrl, OPENAI_API_KEY: 'test-key', ANTHROPIC_BASE_URL: anthropic.baseUrl, ANTHROPIC_API_KEY: 'test-key',
        KEEL_PRICES_FILE: join(dir, 'prices.json'), KEEL_BUDGETS_FILE: join(dir, 'budgets.yaml'), KEEL_BUDGET_MAX_OUTPUT_TOKENS: '1',
        KEEL_ROUTER_BASE_DELAY_MS: '5', KEEL_BATCH_FLUSH_MS: '150', KEEL_BATCH_POLL_MS: '150',
      },
    });
    db = new Client({ connectionString: keel.db.url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await keel?.stop();
    await openai.close();
    await anthropic.close();
  });

  it('a task\'s costUsd is the price table applied to the provider-reported tokens', async () => {
    openai.enqueue({ kind: 'ok', content: 'priced', usage: { inputTokens: 1000, outputTokens: 500 } });
    const t = await terminal(await submit({ input: 'price me', agent: 'paid' }));
    expect(t).toMatchObject({ status: 'succeeded', output: 'priced', usage: { inputTokens: 1000, outputTokens: 500 } });
    expect(t.usage.costUsd).toBeCloseTo((1000 * 0.15 + 500 * 0.6) / 1e6, 12);
    const auth = openai.requests.at(-1)!.headers.authorization;
    expect(auth).toBe('Bearer test-key');
  });

  it('falls back to Anthropic when OpenAI keeps answering 503, and records the route', async () => {
    openai.enqueue(...Array.from({ length: 4 }, () => ({ kind: 'status' as const, status: 503 })));
    anthropic.enqueue({ kind: 'ok', content: 'from claude', usage: { inputTokens: 10, outputTokens: 2 } });
    const t = await terminal(await submit({ input: 'fall back', agent: 'fallback' }));
    expect(t).toMatchObject({ status: 'succeeded', output: 'from claude' });
    const done = (await events(t.id)).find((e) => e.type === 'model.completed')!;
    expect(done.data).toMatchObject({ model: 'anthropic/claude-3-5-haiku', route: { requested: 'openai/gpt-4o-mini', used: 'anthropic/claude-3-5-haiku' } });
  });

  it('100 concurrent tasks against a budget that allows 10 never overspend, and the 80 % alert fires once', async () => {
    const nc = await connect({ servers: keel.nats.url });
    const js = jetstream(nc);
    const run = Date.now();
    const ids: string[] = [];
    await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const h = natsHeaders();
      h.set('Keel-Tenant', 'budgeted');
      const msgId = `budget-${run}-${i}`;
      ids.push(taskIdFor('budgeted', msgId));
      await js.publish(Subjects.tasksSubmit, JSON.stringify({ input: `spend ${i}`, agent: 'budgeted' }), { headers: h, msgID: msgId });
    }));
    await nc.close();
    const rows = await waitFor('all 100 terminal', async () => {
      const r = (await db.query(`SELECT status, error->>'code' AS code FROM orchestrator.tasks WHERE id = ANY($1) AND status IN ('succeeded','failed')`, [ids])).rows as { status: string; code: string | null }[];
      return r.length === 100 ? r : undefined;
    }, 60_000, 200);
    const spent = Number((await db.query(`SELECT coalesce(sum(cost_usd), 0) AS s FROM router.usage WHERE tenant = 'budgeted'`)).rows[0].s);
    expect(spent).toBeLessThanOrEqual(10);
    expect(spent).toBe(10);
    expect(rows.filter((r) => r.status === 'succeeded')).toHaveLength(10);
    expect(rows.filter((r) => r.code === 'budget_exceeded')).toHaveLength(90);
    const alerts = (await db.query(`SELECT count(*)::int AS n FROM orchestrator.task_events WHERE task_id = ANY($1) AND type = 'budget.alert'`, [ids])).rows[0].n;
    expect(alerts).toBe(1);
  }, 120_000);

  it('never shares a cached answer between users; the same user gets it back for free', async () => {
    const script = [{ content: 'Paris', usage: { inputTokens: 0, outputTokens: 3 } }];
    const ask = (userId: string) => submit({ input: 'What is the capital of France?', agent: 'cached', userId, metadata: { script } });
    const alice = await terminal(await ask('alice'));
    const bob = await terminal(await ask('bob'));
    const again = await terminal(await ask('alice'));
    const cacheOf = async (id: string) => (await events(id)).find((e) => e.type === 'model.completed')!.data.cache;
    expect(await cacheOf(alice.id)).toBeUndefined();
    expect(await cacheOf(bob.id)).toBeUndefined();
    expect(await cacheOf(again.id)).toMatchObject({ kind: 'exact', saved: { inputTokens: bob.usage.inputTokens, outputTokens: 3, costUsd: 3 } });
    expect(again.usage).toEqual({ inputTokens: 0, outputTokens: 0, costUsd: 0 });
    expect(again.output).toBe('Paris');
    expect(bob.usage.costUsd).toBe(3);
    expect(again.usage.costUsd).toBe(0);

    // An operator drops the agent's cached answers: the next identical question is answered afresh.
    const invalidate = await request('router', '/v1/admin/cache/invalidate', { method: 'POST', body: JSON.stringify({ agent: 'cached' }) });
    expect(invalidate.status).toBe(200);
    expect(((await invalidate.json()) as { deleted: number }).deleted).toBeGreaterThanOrEqual(2);
    const denied = await fetch(`${keel.url('router')}/v1/admin/cache/invalidate`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(denied.status).toBe(401);
    const fresh = await terminal(await ask('alice'));
    expect(await cacheOf(fresh.id)).toBeUndefined();
  });

  it('pauses a task whose token rate runs far above the baseline, with an alert', async () => {
    const script = [
      { toolCalls: [{ name: 'calculator', arguments: { expression: '1+1' } }], usage: { inputTokens: 0, outputTokens: 60_000 } },
      { content: 'never reached' },
    ];
    const t = await terminal(await submit({ input: 'burn tokens', agent: 'runaway', metadata: { script } }));
    expect(t.status).toBe('failed');
    expect(t.error).toMatchObject({ code: 'rate_limited' });
    expect(t.error?.message).toMatch(/token rate \(60000\/min\) was far above its baseline/);
    expect(await (await fetch(`${keel.url('router')}/metrics`)).text()).toMatch(/keel_anomaly_trips_total\{[^}]*kind="task"[^}]*\} 1/);
  });

  it('escalates a cascade past an unconfident answer and bills both calls to the task and the usage table', async () => {
    const script = [
      { content: 'maybe', confidence: 0.3, usage: { inputTokens: 0, outputTokens: 2 } },
      { content: 'surely', confidence: 0.95, usage: { inputTokens: 0, outputTokens: 3 } },
    ];
    const t = await terminal(await submit({ input: 'be sure', agent: 'cascade', metadata: { script } }));
    expect(t).toMatchObject({ status: 'succeeded', output: 'surely', usage: { outputTokens: 5, costUsd: 5 } });
    const done = (await events(t.id)).find((e) => e.type === 'model.completed')!;
    expect(done.data).toMatchObject({ model: 'scripted/strong', route: { escalations: [{ model: 'scripted/cheap', why: 'confidence 0.3 < 0.7', costUsd: 2 }] } });
    const rows = await waitFor('usage rows', async () => {
      const r = (await db.query('SELECT model, cost_usd FROM router.usage WHERE task_id = $1 ORDER BY cost_usd', [t.id])).rows as { model: string; cost_usd: string }[];
      return r.length === 2 ? r : undefined;
    }, 5000);
    expect(rows.map((r) => [r.model, Number(r.cost_usd)])).toEqual([['scripted/cheap', 2], ['scripted/strong', 3]]);
  });

  describe('batch mode (OpenAI Batch API)', () => {
    const statusSeen = async (id: string) => {
      const seen = new Set<string>();
      const t = await waitFor(`task ${id}`, async () => {
        const v = await task(id);
        seen.add(v.status);
        return ['succeeded', 'failed'].includes(v.status) ? v : undefined;
      }, 30_000, 20);
      return { t, seen };
    };

    afterEach(() => {
      openai.batchOutcome = 'completed';
      openai.pollsToFinish = 1;
    });

    it('parks the task while its turn waits in a batch, then finishes it at half the price', async () => {
      openai.pollsToFinish = 3;
      openai.enqueue({ kind: 'ok', content: 'batched answer', usage: { inputTokens: 1000, outputTokens: 500 } });
      const id = await submit({ input: 'summarise overnight', agent: 'paid', mode: 'batch' });
      const { t, seen } = await statusSeen(id);
      expect(t).toMatchObject({ status: 'succeeded', output: 'batched answer', mode: 'batch', usage: { inputTokens: 1000, outputTokens: 500 } });
      expect(seen.has('waiting_model')).toBe(true);
      expect(t.usage.costUsd).toBeCloseTo(0.5 * (1000 * 0.15 + 500 * 0.6) / 1e6, 12);

      const evs = await events(id);
      const queued = evs.find((e) => e.type === 'model.batch_queued');
      const completed = evs.find((e) => e.type === 'model.batch_completed');
      expect(queued?.data).toMatchObject({ step: 1, itemId: `${id}:1` });
      expect(completed?.data).toMatchObject({ step: 1, itemId: `${id}:1` });
      // One model turn, one batch line: the resumed step collected the answer instead of asking again.
      const batchId = String(completed?.data.batchId);
      const lines = openai.batchInput(batchId);
      expect(lines.filter((l) => l.custom_id === `${id}:1`)).toHaveLength(1);
      expect(lines[0]).toMatchObject({ method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini' } });
      expect(lines[0].body.stream).toBeUndefined();
      const usage = await db.query('SELECT batch, cost_usd FROM router.usage WHERE task_id = $1', [id]);
      expect(usage.rows).toHaveLength(1);
      expect(usage.rows[0].batch).toBe(true);
      expect(Number(usage.rows[0].cost_usd)).toBeCloseTo(t.usage.costUsd, 10);
    });

    it('falls back to a realtime call when the batch expires, and says so in the events', async () => {
      openai.batchOutcome = 'expired';
      openai.enqueue({ kind: 'ok', content: 'realtime after all', usage: { inputTokens: 100, outputTokens: 10 } });
      const { t } = await statusSeen(await submit({ input: 'this one will expire', agent: 'paid', mode: 'batch' }));
      expect(t).toMatchObject({ status: 'succeeded', output: 'realtime after all' });
      expect(t.usage.costUsd).toBeCloseTo((100 * 0.15 + 10 * 0.6) / 1e6, 12);
      const failed = (await events(t.id)).find((e) => e.type === 'model.batch_failed');
      expect(failed?.data).toMatchObject({ step: 1, fallback: 'realtime', error: { code: 'batch_expired' } });
    });

    it('refuses batch mode on a provider without a batch API, naming the reason', async () => {
      const { t } = await statusSeen(await submit({ input: 'scripted has no batches', agent: 'budgeted', mode: 'batch' }));
      expect(t.status).toBe('failed');
      expect(t.error).toMatchObject({ code: 'invalid_request' });
      expect(t.error?.message).toMatch(/model provider "scripted" has no batch API/);
    });

    it('rejects an unknown mode at submission', async () => {
      const res = await request('orchestrator', '/v1/tasks', { method: 'POST', body: JSON.stringify({ input: 'x', agent: 'paid', mode: 'overnight' }) });
      expect(res.status).toBe(400);
      expect(JSON.stringify(await res.json())).toMatch(/mode/);
    });
  });
});
