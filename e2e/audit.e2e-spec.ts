import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { AuditItem } from '@keel/contracts';
import { insertApiKey, keelClient, startKeel, waitFor } from '@keel/testing';
import type { KeelStack, ServiceName } from '@keel/testing';

interface AuditAnswer { items: AuditItem[]; partial: boolean; unavailable: string[] }

/**
 * Issue 11 item 4: one audit log, queryable by admins, over four services'
 * append-only tables — an approved high-risk tool call, a key creation, a
 * budget override, an agent policy change — each with actor, time and trace
 * id; scoped to the tenant; answered (partially) with a service down.
 */
describe('the merged audit log (five processes)', () => {
  let keel: KeelStack;
  let sink: Server;
  let db: Client;
  let dir: string;
  const keys = {} as { viewer: string; otherAdmin: string };
  const marks = { gateId: '', taskId: '', keyId: '', overrideId: '', budgetTaskId: '' };
  const hits: string[] = [];

  const http = async <T>(service: ServiceName, path: string, init: { method?: string; body?: unknown; key?: string } = {}) => {
    const res = await fetch(`${keel.url(service)}${path}`, {
      method: init.method ?? 'GET',
      headers: { Authorization: `Bearer ${init.key ?? keel.apiKey}`, ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, text };
  };
  const { submit, waitStatus: waitTask } = keelClient(() => keel);
  const audit = (key = keel.apiKey, query = 'limit=500') => http<AuditAnswer>('orchestrator', `/v1/admin/audit?${query}`, { key });

  beforeAll(async () => {
    sink = createServer((req, res) => {
      hits.push(String(req.headers['idempotency-key']));
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"sent":true}');
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'keel-audit-'));
    writeFileSync(join(dir, 'gated.yaml'), `name: gated\nmodel: scripted/default\ntools:\n  - name: http_request\n    allow: ["127.0.0.1:${port}"]\n    risk: approve\napprovals: {timeoutMs: 600000}\n`);
    writeFileSync(join(dir, 'plain.yaml'), 'name: plain\nmodel: scripted/default\n');
    writeFileSync(join(dir, 'policy.yaml'), 'name: policy\nmodel: scripted/default\nlimits: {maxSteps: 10}\n');
    // A user whose configured daily budget ($0.000001) is below any call's estimate.
    const budgets = join(mkdtempSync(join(tmpdir(), 'keel-audit-budgets-')), 'budgets.yaml');
    writeFileSync(budgets, 'users:\n  default:\n    capped: {daily: {limitUsd: 0.000001}}\n');
    keel = await startKeel({ agentsDir: dir, env: { KEEL_BUDGETS_FILE: budgets } });
    db = new Client({ connectionString: keel.db.url });
    await db.connect();
    keys.viewer = (await insertApiKey(db, 'default', 'viewer')).key;
    keys.otherAdmin = (await insertApiKey(db, 'tenant-b', 'admin')).key;
    marks.taskId = await submit({ input: 'send the order', agent: 'gated', metadata: { script: [{ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `http://127.0.0.1:${port}/orders`, body: { order: 1 } } }] }, { content: 'sent' }] } });
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await keel?.stop();
    sink?.close();
  });

  it('records an approval, the approved high-risk call, a key creation, a budget override and a policy change; an admin sees them all', async () => {
    // 1. The gated call: approved through the approval REST API, then it runs once.
    await waitTask(marks.taskId, ['waiting_approval']);
    marks.gateId = await waitFor('gate', async () => {
      const r = await http<{ items: { id: string; taskId: string }[] }>('approval', '/v1/approvals?status=pending');
      return r.body.items.find((g) => g.taskId === marks.taskId)?.id;
    }, 10_000);
    expect((await http('approval', `/v1/approvals/${marks.gateId}/decision`, { method: 'POST', body: { decision: 'approve', comment: 'ok to send' } })).status).toBe(200);
    const task = await waitTask(marks.taskId, ['succeeded', 'failed']);
    expect(task.status).toBe('succeeded');
    expect(hits).toEqual([`${marks.taskId}:1:0`]);

    // 2. A key creation.
    const created = await http<{ id: string }>('orchestrator', '/v1/admin/api-keys', { method: 'POST', body: { role: 'submitter', name: 'audited worker' } });
    expect(created.status).toBe(201);
    marks.keyId = created.body.id;

    // 3. A task over the configured cap fails; under an override it passes.
    const refused = await waitTask(await submit({ input: 'hello', agent: 'plain', userId: 'capped', metadata: { script: [{ content: 'hi' }] } }), ['succeeded', 'failed']);
    expect(refused).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' } });
    const override = await http<{ id: string; limitUsd: number }>('router', '/v1/admin/budgets/overrides', {
      method: 'PUT', body: { scope: 'user', userId: 'capped', period: 'day', limitUsd: 5, expiresAt: new Date(Date.now() + 3_600_000).toISOString(), reason: 'launch demo' },
    });
    expect(override).toMatchObject({ status: 200, body: { limitUsd: 5 } });
    marks.overrideId = override.body.id;
    expect((await http<{ items: { id: string }[] }>('router', '/v1/admin/budgets/overrides')).body.items.map((o) => o.id)).toEqual([marks.overrideId]);
    expect((await http<{ items: unknown[] }>('router', '/v1/admin/budgets/overrides', { key: keys.otherAdmin })).body.items).toEqual([]);
    const passed = await waitTask(await submit({ input: 'hello again', agent: 'plain', userId: 'capped', metadata: { script: [{ content: 'hi' }] } }), ['succeeded', 'failed']);
    expect(passed.status).toBe('succeeded');
    marks.budgetTaskId = passed.id;

    // 4. A policy change: the agent file is edited and the orchestrator restarted.
    writeFileSync(join(dir, 'policy.yaml'), 'name: policy\nmodel: scripted/default\nlimits: {maxSteps: 3}\n');
    await keel.restart('orchestrator');

    const { status, body } = await audit();
    expect(status).toBe(200);
    expect(body).toMatchObject({ partial: false, unavailable: [] });
    const items = body.items;
    expect(items.every((i) => i.tenant === 'default' && typeof i.at === 'string')).toBe(true);
    expect(items.map((i) => Date.parse(i.at))).toEqual(items.map((i) => Date.parse(i.at)).sort((a, b) => b - a));
    const find = (service: string, action: string, pred: (i: AuditItem) => boolean = () => true) => items.filter((i) => i.service === service && i.action === action && pred(i));

    const opened = find('approval', 'gate.opened', (i) => i.target === `gate:${marks.gateId}`);
    expect(opened).toEqual([expect.objectContaining({ actor: 'system', traceId: task.traceId })]);
    expect(find('approval', 'gate.approved', (i) => i.target === `gate:${marks.gateId}`)).toEqual([
      expect.objectContaining({ actor: 'bootstrap', details: expect.objectContaining({ decision: 'approve', comment: 'ok to send' }) }),
    ]);
    const toolRows = items.filter((i) => i.service === 'tool-executor' && i.target === `${marks.taskId}:1:0`).reverse();
    expect(toolRows.map((i) => i.action)).toEqual(['tool.called', 'tool.succeeded']);
    for (const r of toolRows) {
      expect(r).toMatchObject({ actor: `task:${marks.taskId}`, traceId: task.traceId, details: expect.objectContaining({ agent: 'gated', tool: 'http_request', gateId: marks.gateId, argsHash: expect.stringMatching(/^[0-9a-f]{64}$/) }) });
      expect(JSON.stringify(r.details)).not.toContain('/orders');
    }
    expect(find('orchestrator', 'api_key.created', (i) => i.target === marks.keyId)).toEqual([expect.objectContaining({ actor: 'bootstrap', actorName: 'bootstrap' })]);
    expect(find('router', 'budget.override_set', (i) => i.details.id === marks.overrideId)).toEqual([
      expect.objectContaining({ actor: 'bootstrap', actorKeyId: expect.any(String), target: 'user:default:capped', details: expect.objectContaining({ limitUsd: 5, reason: 'launch demo', period: 'day' }) }),
    ]);
    const policy = find('orchestrator', 'policy.changed', (i) => i.target === 'agent:policy');
    expect(policy.map((p) => p.details.change)).toEqual(['changed', 'added']);
    expect(policy[0]).toMatchObject({ actor: 'deploy:0', actorKeyId: null, details: { agent: 'policy', changedKeys: ['limits'] } });
    // Nothing else changed at the restart.
    expect(find('orchestrator', 'policy.changed').filter((p) => p.details.change === 'changed')).toHaveLength(1);

    // Filters still work across services.
    const onlyCalls = (await audit(keel.apiKey, 'action=tool.called&limit=10')).body.items;
    expect(onlyCalls.length).toBeGreaterThan(0);
    expect(onlyCalls.every((i) => i.action === 'tool.called')).toBe(true);
  }, 120_000);

  it("another tenant's admin sees none of it, and a non-admin is refused", async () => {
    const other = await audit(keys.otherAdmin);
    expect(other.status).toBe(200);
    expect(other.body.items.every((i) => i.tenant === 'tenant-b')).toBe(true);
    for (const mark of [marks.gateId, marks.taskId, marks.keyId, marks.overrideId, 'policy.changed', 'agent:policy']) expect(other.text).not.toContain(mark);
    expect((await audit(keys.viewer)).status).toBe(403);
    expect((await http('router', `/v1/admin/budgets/overrides/${marks.overrideId}`, { method: 'DELETE', key: keys.otherAdmin })).status).toBe(404);
    expect((await http('router', '/v1/admin/budgets/overrides', { key: keys.viewer })).status).toBe(403);
  });

  it('answers with partial: true when the tool-executor is down', async () => {
    await keel.kill('tool-executor');
    const started = Date.now();
    const { status, body } = await audit();
    expect(status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(body).toMatchObject({ partial: true, unavailable: ['tool-executor'] });
    expect(body.items.some((i) => i.service === 'tool-executor')).toBe(false);
    expect(body.items.some((i) => i.service === 'approval')).toBe(true);
    expect(body.items.some((i) => i.service === 'router')).toBe(true);
    // The override is removed, and that is audited too.
    expect((await http('router', `/v1/admin/budgets/overrides/${marks.overrideId}`, { method: 'DELETE' })).status).toBe(204);
    expect((await audit(keel.apiKey, 'action=budget.override_removed')).body.items.map((i) => i.details.id)).toEqual([marks.overrideId]);
  });
});
