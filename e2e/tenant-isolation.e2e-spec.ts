import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Role, TaskView } from '@keel/contracts';
import { fetchRouteInventory, insertApiKey, routeKey, sourceRoutes, startKeel, waitFor } from '@keel/testing';
import type { ApiRoute, KeelStack, ServiceName } from '@keel/testing';

/**
 * Issue 11: every endpoint of the five services, walked (a) by another
 * tenant's admin with tenant A's ids and (b) by each role of tenant A.
 *
 * The route inventory is read at run time from each service's
 * `/openapi.json` (plus the health routes every service serves), so a new
 * documented route fails "every route has a walker" until it gets an entry in
 * WALKERS below; a route in the controllers but not in the document fails
 * "every controller route is documented".
 */

const A = 'default'; // the bootstrap admin's tenant
const B = 'tenant-b';
const ROLES: Role[] = ['viewer', 'submitter', 'approver', 'admin'];
const HEALTH: string[] = ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json'];

/**
 * Who may call what. Source: the route tables of apps/orchestrator/README.md
 * ("REST"), apps/approval/README.md ("Interfaces"), apps/router/README.md
 * ("Operators"), apps/guardrail/README.md ("Interfaces") and docs/api-keys.md
 * (admin only); each entry is also the handler's `@RequireRoles(...)`, which
 * the first test checks against the controllers. `admin` passes every role
 * check (libs/service-kit/src/auth/api-key.guard.ts), so it is allowed
 * everywhere and not listed. 'public': no key needed (health, metrics, the
 * OpenAPI document, the approval console's page).
 */
const ROLE_MATRIX: Record<string, readonly Role[] | 'public'> = {
  'orchestrator POST /v1/tasks': ['submitter'],
  'orchestrator GET /v1/tasks/{id}': ['viewer', 'submitter', 'approver'],
  'orchestrator GET /v1/tasks/{id}/events': ['viewer', 'submitter', 'approver'],
  'orchestrator POST /v1/tasks/{id}/cancel': ['submitter'],
  'orchestrator POST /v1/tasks/{id}/feedback': ['viewer', 'submitter'],
  'orchestrator GET /v1/memory/users/{userId}': [],
  'orchestrator DELETE /v1/memory/users/{userId}': [],
  'orchestrator POST /v1/admin/api-keys': [],
  'orchestrator GET /v1/admin/api-keys': [],
  'orchestrator DELETE /v1/admin/api-keys/{id}': [],
  'orchestrator POST /v1/admin/api-keys/{id}/rotate': [],
  'orchestrator GET /v1/admin/audit': [],
  'orchestrator GET /v1/feedback': ['viewer'],
  'orchestrator GET /v1/experiments/{agent}': ['viewer'],
  'orchestrator POST /v1/tasks/{id}/replay': ['submitter'],
  'orchestrator GET /v1/tasks/{id}/compare': ['viewer', 'submitter', 'approver'],
  'approval GET /': 'public',
  'approval GET /v1/approvals': ['approver', 'viewer'],
  'approval GET /v1/approvals/stream': ['approver', 'viewer'],
  'approval GET /v1/approvals/{id}': ['approver', 'viewer'],
  'approval GET /v1/approvals/{id}/timeline': ['approver', 'viewer'],
  'approval POST /v1/approvals/{id}/decision': ['approver'],
  'router POST /v1/admin/cache/invalidate': [],
  'router PUT /v1/admin/budgets/overrides': [],
  'router GET /v1/admin/budgets/overrides': [],
  'router DELETE /v1/admin/budgets/overrides/{id}': [],
  'guardrail POST /v1/screen': ['viewer', 'submitter', 'approver'],
};
const matrixOf = (r: ApiRoute) => (HEALTH.includes(`${r.method} ${r.path}`) ? 'public' : ROLE_MATRIX[routeKey(r)]);
const allowed = (r: ApiRoute, role: Role) => {
  const m = matrixOf(r);
  return m === 'public' || role === 'admin' || m.includes(role);
};

interface Fixtures {
  mark: string;
  userId: string;
  conversationId: string;
  idemKey: string;
  finished: TaskView;
  /** Waiting for approval, with their pending gate ids. */
  waiting: { taskId: string; gateId: string }[];
  keyId: string;
  /** A budget override of A's (router). */
  overrideId: string;
}

/** Who is calling: tenant B's admin with A's ids, or one role of tenant A. */
type Caller = { kind: 'tenant-b' } | { kind: 'role'; role: Role; allowed: boolean };

interface Call {
  params?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * How to walk one route: fill its path params and a valid body, for tenant B
 * (A's ids) or for a role of A. A call that consumes its object (a decision,
 * a revocation) gets a fresh one when it is expected to succeed.
 * `cross`: what tenant B's admin gets with A's ids — `not_found`, or
 * `own_scope` (2xx, but only B's own data: a list, an export, a count).
 */
interface Walker {
  cross: 'not_found' | 'own_scope' | 'public';
  /** Server-Sent Events: read the head of the stream, then hang up. */
  sse?: 'until-end' | 'first-event';
  call: (f: Fixtures, who: Caller, h: Helpers) => Promise<Call> | Call;
}

interface Helpers {
  freshKey(): Promise<string>;
  freshGate(): Promise<string>;
  freshOverride(): Promise<string>;
  /** A replay of A's finished task (made once, before tenant B's walk takes its snapshot). */
  replayOfFinished(): Promise<string>;
}

const publicWalker: Walker = { cross: 'public', call: () => ({}) };
const WALKERS: Record<string, Walker> = {
  'GET /healthz': publicWalker,
  'GET /readyz': publicWalker,
  'GET /metrics': publicWalker,
  'GET /openapi.json': publicWalker,
  'approval GET /': publicWalker,
  'orchestrator POST /v1/tasks': {
    cross: 'own_scope',
    // Tenant B reuses A's Idempotency-Key, user and conversation: it must get a task of its own, and
    // the echo model shows whatever memory assembled, which must hold nothing of A's.
    call: (f, who) => who.kind === 'tenant-b'
      ? { body: { input: 'hello from tenant b', agent: 'iso', userId: f.userId, conversationId: f.conversationId, metadata: { script: [{ reply: 'echo' }] } }, headers: { 'Idempotency-Key': f.idemKey } }
      : { body: { input: 'role walk', metadata: { script: [{ content: 'ok' }] } } },
  },
  'orchestrator GET /v1/tasks/{id}': { cross: 'not_found', call: (f) => ({ params: { id: f.finished.id } }) },
  'orchestrator GET /v1/tasks/{id}/events': { cross: 'not_found', sse: 'until-end', call: (f) => ({ params: { id: f.finished.id } }) },
  // Tenant B tries to cancel A's waiting task; A's roles cancel the finished one (202, nothing changes).
  'orchestrator POST /v1/tasks/{id}/cancel': { cross: 'not_found', call: (f, who) => ({ params: { id: who.kind === 'tenant-b' ? f.waiting[0].taskId : f.finished.id } }) },
  'orchestrator POST /v1/tasks/{id}/feedback': { cross: 'not_found', call: (f) => ({ params: { id: f.finished.id }, body: { score: -1, comment: 'walked' } }) },
  'orchestrator GET /v1/memory/users/{userId}': { cross: 'own_scope', call: (f) => ({ params: { userId: f.userId } }) },
  // Tenant B "forgets" A's user (finds nobody in its own tenant); A's admin forgets a user nobody knows.
  'orchestrator DELETE /v1/memory/users/{userId}': { cross: 'own_scope', call: (f, who) => ({ params: { userId: who.kind === 'tenant-b' ? f.userId : `nobody-${randomUUID()}` } }) },
  'orchestrator POST /v1/admin/api-keys': { cross: 'own_scope', call: () => ({ body: { role: 'viewer', name: 'walked' } }) },
  'orchestrator GET /v1/admin/api-keys': { cross: 'own_scope', call: () => ({}) },
  'orchestrator DELETE /v1/admin/api-keys/{id}': {
    cross: 'not_found',
    call: async (f, who, h) => ({ params: { id: who.kind === 'role' && who.allowed ? await h.freshKey() : f.keyId } }),
  },
  'orchestrator POST /v1/admin/api-keys/{id}/rotate': {
    cross: 'not_found',
    call: async (f, who, h) => ({ params: { id: who.kind === 'role' && who.allowed ? await h.freshKey() : f.keyId }, body: {} }),
  },
  'orchestrator GET /v1/admin/audit': { cross: 'own_scope', call: () => ({}) },
  'orchestrator GET /v1/feedback': { cross: 'own_scope', call: () => ({}) },
  // `exp` declares an experiment: its results answer 200 even before any task (tenant B must see none of A's tasks).
  'orchestrator GET /v1/experiments/{agent}': { cross: 'own_scope', call: () => ({ params: { agent: 'exp' } }) },
  'orchestrator POST /v1/tasks/{id}/replay': { cross: 'not_found', call: (f) => ({ params: { id: f.finished.id }, body: { fromStep: 0 } }) },
  'orchestrator GET /v1/tasks/{id}/compare': { cross: 'not_found', call: async (_f, _who, h) => ({ params: { id: await h.replayOfFinished() } }) },
  'approval GET /v1/approvals': { cross: 'own_scope', call: () => ({}) },
  'approval GET /v1/approvals/stream': { cross: 'own_scope', sse: 'first-event', call: () => ({}) },
  'approval GET /v1/approvals/{id}': { cross: 'not_found', call: (f) => ({ params: { id: f.waiting[0].gateId } }) },
  'approval GET /v1/approvals/{id}/timeline': { cross: 'not_found', call: (f) => ({ params: { id: f.waiting[0].gateId } }) },
  // Tenant B tries to approve A's gate; A's deciding roles each reject a gate of their own.
  'approval POST /v1/approvals/{id}/decision': {
    cross: 'not_found',
    call: async (f, who, h) => who.kind === 'tenant-b'
      ? { params: { id: f.waiting[0].gateId }, body: { decision: 'approve', comment: 'from b' } }
      : { params: { id: who.allowed ? await h.freshGate() : f.waiting[0].gateId }, body: { decision: 'reject', comment: 'role walk' } },
  },
  // Tenant B drops "all" cached answers (its own: none); A's admin drops an agent that has none.
  'router POST /v1/admin/cache/invalidate': { cross: 'own_scope', call: (_f, who) => ({ body: who.kind === 'tenant-b' ? {} : { agent: 'no-such-agent' } }) },
  // Tenant B sets an override of its own tenant; A's admin sets one for a user of A.
  'router PUT /v1/admin/budgets/overrides': {
    cross: 'own_scope',
    call: () => ({ body: { scope: 'user', userId: 'walker', period: 'day', limitUsd: 1, expiresAt: new Date(Date.now() + 3_600_000).toISOString(), reason: 'role walk' } }),
  },
  'router GET /v1/admin/budgets/overrides': { cross: 'own_scope', call: () => ({}) },
  // Tenant B tries to remove A's override; A's admin removes one of its own.
  'router DELETE /v1/admin/budgets/overrides/{id}': {
    cross: 'not_found',
    call: async (f, who, h) => ({ params: { id: who.kind === 'role' && who.allowed ? await h.freshOverride() : f.overrideId } }),
  },
  'guardrail POST /v1/screen': { cross: 'own_scope', call: () => ({ body: { text: 'hello there', channel: 'user' } }) },
};
const walkerOf = (r: ApiRoute): Walker | undefined => WALKERS[routeKey(r)] ?? WALKERS[`${r.method} ${r.path}`];

interface Answer { status: number; text: string; contentType: string }

describe('tenant isolation and roles on every endpoint (five processes)', () => {
  let keel: KeelStack;
  let db: Client;
  let routes: ApiRoute[];
  let f: Fixtures;
  const keys = {} as Record<Role, string> & { b: string };
  const secrets: string[] = [];

  const http = async (service: ServiceName, method: string, path: string, key: string | undefined, call: Call = {}, sse?: Walker['sse']): Promise<Answer> => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 15_000);
    try {
      const res = await fetch(`${keel.url(service)}${path}`, {
        method,
        signal: ac.signal,
        headers: {
          ...(key ? { Authorization: `Bearer ${key}` } : {}),
          ...(call.body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...call.headers,
        },
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
      });
      const contentType = res.headers.get('content-type') ?? '';
      if (sse && res.ok && contentType.startsWith('text/event-stream')) {
        // Read until the stream ends (a finished task's events) or the first event (a live count), then hang up.
        let text = '';
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          if (sse === 'first-event' && /event: \w+\ndata: .*\n\n/.test(text)) break;
        }
        ac.abort();
        return { status: res.status, text, contentType };
      }
      return { status: res.status, text: await res.text(), contentType };
    } finally {
      clearTimeout(timer);
    }
  };
  const api = async <T>(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}, key = keel.apiKey): Promise<{ status: number; body: T }> => {
    const r = await http('orchestrator', init.method ?? 'GET', path, key, { body: init.body, headers: init.headers });
    return { status: r.status, body: (r.text ? JSON.parse(r.text) : undefined) as T };
  };
  const waitTask = (id: string, statuses: string[], key = keel.apiKey) => waitFor(`task ${id} in ${statuses.join('/')}`, async () => {
    const t = (await api<TaskView>(`/v1/tasks/${id}`, {}, key)).body;
    return statuses.includes(t.status) ? t : undefined;
  }, 30_000, 50);
  const gateOf = (taskId: string) => waitFor(`gate of ${taskId}`, async () => {
    const r = await http('approval', 'GET', '/v1/approvals?status=pending', keel.apiKey);
    return (JSON.parse(r.text) as { items: { id: string; taskId: string }[] }).items.find((g) => g.taskId === taskId)?.id;
  }, 15_000, 50);
  /** A task of A waiting on an approval gate (the tool is `risk: approve`); the gated call carries A's marker. */
  const waitingTask = async () => {
    const script = [{ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: 'http://127.0.0.1:9/orders', body: { note: f.mark } } }] }, { content: `done ${f.mark}` }];
    const { status, body } = await api<{ id: string }>('/v1/tasks', { method: 'POST', body: { input: `send the order ${f.mark}`, agent: 'gated', metadata: { script } } });
    expect(status).toBe(202);
    await waitTask(body.id, ['waiting_approval']);
    return { taskId: body.id, gateId: await gateOf(body.id) };
  };
  const helpers: Helpers = {
    freshKey: async () => (await insertApiKey(db, A, 'viewer', 'to consume')).id,
    freshGate: async () => (await waitingTask()).gateId,
    freshOverride: async () => {
      const r = await http('router', 'PUT', '/v1/admin/budgets/overrides', keel.apiKey, {
        body: { scope: 'user', userId: `fresh-${randomUUID()}`, period: 'month', limitUsd: 2, expiresAt: new Date(Date.now() + 3_600_000).toISOString(), reason: 'to consume' },
      });
      expect(r.status).toBe(200);
      return (JSON.parse(r.text) as { id: string }).id;
    },
    replayOfFinished: async () => {
      replayId ??= api<{ id: string }>(`/v1/tasks/${f.finished.id}/replay`, { method: 'POST', body: { fromStep: 0 } }).then((r) => {
        expect(r.status).toBe(202);
        return r.body.id;
      });
      return replayId;
    },
  };
  let replayId: Promise<string> | undefined;
  const pathOf = (r: ApiRoute, params: Record<string, string> = {}) =>
    r.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
      if (params[name] === undefined) throw new Error(`${routeKey(r)}: the walker gives no value for {${name}}`);
      return encodeURIComponent(params[name]);
    });

  /** Everything of A's that must never reach another tenant (ids, the marker in its texts, its secrets). */
  const markersOfA = () => [f.mark, f.finished.id, f.userId, f.conversationId, f.keyId, f.overrideId, ...f.waiting.flatMap((w) => [w.taskId, w.gateId]), keel.apiKey, ...secrets];

  /** A's rows in every table another tenant's call could touch; compared before and after tenant B's walk. */
  const snapshotA = async () => {
    const q = async (sql: string) => (await db.query<{ row: unknown }>(sql, [A])).rows.map((r) => r.row);
    return {
      tasks: await q('SELECT to_jsonb(t) AS row FROM orchestrator.tasks t WHERE tenant = $1 ORDER BY id'),
      events: await q('SELECT jsonb_build_array(e.task_id, count(*)) AS row FROM orchestrator.task_events e JOIN orchestrator.tasks t ON t.id = e.task_id WHERE t.tenant = $1 GROUP BY e.task_id ORDER BY e.task_id'),
      feedback: await q('SELECT to_jsonb(x) AS row FROM orchestrator.feedback x WHERE tenant = $1 ORDER BY id'),
      memory: await q("SELECT to_jsonb(x) - 'embedding' AS row FROM orchestrator.memory_items x WHERE tenant = $1 ORDER BY id"),
      summaries: await q('SELECT to_jsonb(x) AS row FROM orchestrator.memory_summaries x WHERE tenant = $1 ORDER BY 1'),
      keys: await q('SELECT to_jsonb(x) AS row FROM orchestrator.api_keys x WHERE tenant = $1 ORDER BY id'),
      audit: await q('SELECT to_jsonb(x) AS row FROM orchestrator.audit_log x WHERE tenant = $1 ORDER BY id'),
      gates: await q('SELECT to_jsonb(x) AS row FROM approval.gates x WHERE tenant = $1 ORDER BY id'),
      approvalAudit: await q('SELECT to_jsonb(x) AS row FROM approval.audit_log x WHERE tenant = $1 ORDER BY id'),
      cache: await q("SELECT to_jsonb(x) - 'embedding' AS row FROM router.response_cache x WHERE tenant = $1 ORDER BY scope, key_hash"),
      overrides: await q('SELECT to_jsonb(x) AS row FROM router.budget_overrides x WHERE tenant = $1 ORDER BY id'),
      routerAudit: await q('SELECT to_jsonb(x) AS row FROM router.audit_log x WHERE tenant = $1 ORDER BY id'),
      toolAudit: await q('SELECT to_jsonb(x) AS row FROM tool_executor.audit_log x WHERE tenant = $1 ORDER BY id'),
    };
  };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-isolation-'));
    // `iso`: memory (default settings) and the router's response cache; `gated`: every http_request waits for a person.
    writeFileSync(join(dir, 'iso.yaml'), 'name: iso\nmodel: scripted/default\ncache: true\n');
    writeFileSync(join(dir, 'exp.yaml'), 'name: exp\nmodel: scripted/default\nexperiment: {name: walk, variants: [{name: a}, {name: b}]}\n');
    writeFileSync(join(dir, 'gated.yaml'), [
      'name: gated', 'model: scripted/default',
      'tools:', '  - name: http_request', '    allow: ["127.0.0.1:9"]', '    risk: approve',
      'approvals: {timeoutMs: 3600000}', 'limits: {taskTimeoutMs: 3600000}', '',
    ].join('\n'));
    keel = await startKeel({ agentsDir: dir });
    db = new Client({ connectionString: keel.db.url });
    await db.connect();
    for (const role of ROLES) keys[role] = (await insertApiKey(db, A, role)).key;
    keys.b = (await insertApiKey(db, B, 'admin')).key;
    secrets.push(...ROLES.map((r) => keys[r]));
    routes = await fetchRouteInventory(keel);

    // Tenant A's objects: a finished conversation task (memory, a cached answer), feedback, an API key, tasks waiting on gates.
    const mark = `amark${randomUUID().replace(/-/g, '')}`;
    f = { mark, userId: `user-${randomUUID()}`, conversationId: `conv-${randomUUID()}`, idemKey: `idem-${randomUUID()}` } as Fixtures;
    const submitted = await api<{ id: string }>('/v1/tasks', {
      method: 'POST',
      headers: { 'Idempotency-Key': f.idemKey },
      body: { input: `My secret project is ${mark}.`, agent: 'iso', userId: f.userId, conversationId: f.conversationId, metadata: { script: [{ content: `Noted: ${mark}` }] } },
    });
    expect(submitted.status).toBe(202);
    f.finished = await waitTask(submitted.body.id, ['succeeded', 'failed']);
    expect(f.finished).toMatchObject({ status: 'succeeded', output: `Noted: ${mark}` });
    expect((await api(`/v1/tasks/${f.finished.id}/feedback`, { method: 'POST', body: { score: 1, comment: `great ${mark}` } })).status).toBe(204);
    const created = await api<{ id: string; key: string }>('/v1/admin/api-keys', { method: 'POST', body: { role: 'submitter', name: `worker ${mark}` } });
    expect(created.status).toBe(201);
    f.keyId = created.body.id;
    secrets.push(created.body.key);
    f.waiting = [await waitingTask()];
    const override = await http('router', 'PUT', '/v1/admin/budgets/overrides', keel.apiKey, {
      body: { scope: 'user', userId: f.userId, period: 'day', limitUsd: 3, expiresAt: new Date(Date.now() + 3_600_000).toISOString(), reason: `override ${mark}` },
    });
    expect(override.status).toBe(200);
    f.overrideId = (JSON.parse(override.text) as { id: string }).id;
    const counts = await db.query<{ memory: number; cache: number }>(
      'SELECT (SELECT count(*)::int FROM orchestrator.memory_items WHERE tenant = $1 AND user_key = $2) AS memory, (SELECT count(*)::int FROM router.response_cache WHERE tenant = $1) AS cache', [A, f.userId]);
    expect(counts.rows[0].memory).toBeGreaterThan(0);
    expect(counts.rows[0].cache).toBeGreaterThan(0);
  }, 180_000);

  afterAll(async () => {
    await db?.end();
    await keel?.stop();
  });

  it('every route the controllers declare is in its service\'s OpenAPI document, with the roles of the matrix', () => {
    const documented = new Set(routes.map(routeKey));
    const declared = sourceRoutes().filter((r) => !(r.path === '/openapi.json' && !documented.has(routeKey(r))));
    expect(declared.filter((r) => !documented.has(routeKey(r))).map((r) => `${routeKey(r)} (${r.file})`)).toEqual([]);
    const roleMismatches = declared.flatMap((r) => {
      const expected = matrixOf(r);
      const actual = r.roles === null ? 'public' : [...r.roles].sort();
      const want = expected === 'public' ? 'public' : [...(expected ?? ['(missing from ROLE_MATRIX)' as Role])].sort();
      // An empty list in the matrix means "admin only", which the code writes as RequireRoles('admin').
      const normalised = Array.isArray(actual) ? actual.filter((x) => x !== 'admin') : actual;
      return JSON.stringify(normalised) === JSON.stringify(want) ? [] : [{ route: routeKey(r), code: actual, matrix: want }];
    });
    expect(roleMismatches).toEqual([]);
  });

  it('every documented route has a walker entry and a row in the role matrix', () => {
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((r) => !walkerOf(r) || matrixOf(r) === undefined).map(routeKey)).toEqual([]);
    const perService = Object.fromEntries(['orchestrator', 'approval', 'router', 'guardrail', 'tool-executor'].map((s) => [s, routes.filter((r) => r.service === s).length]));
    console.info(`tenant isolation: walking ${routes.length} routes`, perService);
  });

  it('tenant B\'s admin, given A\'s ids, gets 404 or its own (empty) data on every route, never A\'s data, and changes nothing of A\'s', async () => {
    if (routes.some((r) => routeKey(r) === 'orchestrator GET /v1/tasks/{id}/compare')) await helpers.replayOfFinished();
    // Nothing of A's may still be moving on its own (a replay finishing) while B walks.
    await waitFor('tenant A at rest', async () => (await db.query("SELECT 1 FROM orchestrator.tasks WHERE tenant = $1 AND status IN ('queued', 'running')", [A])).rowCount === 0, 30_000, 50);
    const before = await snapshotA();
    const problems: unknown[] = [];
    let bTask: string | undefined;
    let sent = '';
    for (const r of routes) {
      const w = walkerOf(r);
      if (!w) continue; // reported by 'every documented route has a walker entry'
      const call = await w.call(f, { kind: 'tenant-b' }, helpers);
      const path = pathOf(r, call.params);
      const res = await http(r.service, r.method, path, keys.b, call, w.sse);
      sent += ` ${path} ${decodeURIComponent(path)} ${JSON.stringify(call.body ?? '')} ${JSON.stringify(call.headers ?? {})}`;
      // What B itself sent may come back (an id in a 404 message, a user id in B's own audit log); nothing else of A's may.
      const leaked = markersOfA().filter((m) => !sent.includes(m) && res.text.includes(m));
      const ok = w.cross === 'not_found' ? res.status === 404 : res.status >= 200 && res.status < 300;
      if (!ok || leaked.length) problems.push({ route: routeKey(r), status: res.status, expected: w.cross, leaked, body: res.text.slice(0, 300) });
      if (routeKey(r) === 'orchestrator POST /v1/tasks') bTask = (JSON.parse(res.text) as { id: string }).id;
      if (routeKey(r) === 'approval GET /v1/approvals') expect(JSON.parse(res.text)).toEqual({ items: [] });
      if (routeKey(r) === 'approval GET /v1/approvals/stream') expect(res.text).toMatch(/event: pending\ndata: \{"pending":0,/);
      if (routeKey(r) === 'orchestrator GET /v1/admin/api-keys') expect((JSON.parse(res.text) as { items: { tenant: string }[] }).items.every((k) => k.tenant === B)).toBe(true);
      if (routeKey(r) === 'orchestrator GET /v1/feedback') expect(JSON.parse(res.text)).toEqual({ items: [] });
      if (routeKey(r) === 'orchestrator GET /v1/admin/audit') expect((JSON.parse(res.text) as { items: { tenant: string }[] }).items.every((i) => i.tenant === B)).toBe(true);
      if (routeKey(r) === 'router GET /v1/admin/budgets/overrides') expect((JSON.parse(res.text) as { items: { tenant: string }[] }).items.every((o) => o.tenant === B)).toBe(true);
      if (routeKey(r) === 'orchestrator GET /v1/experiments/{agent}') expect((JSON.parse(res.text) as { variants: { tasks: number }[] }).variants.map((v) => v.tasks)).toEqual([0, 0]);
    }
    expect(problems).toEqual([]);
    // B's own task (A's idempotency key, user and conversation) is B's: a new id, and the echoed prompt holds no memory of A's.
    expect(bTask).toBeDefined();
    expect(bTask).not.toBe(f.finished.id);
    const done = await waitTask(bTask!, ['succeeded', 'failed'], keys.b);
    expect(done.status).toBe('succeeded');
    expect(markersOfA().filter((m) => JSON.stringify(done).includes(m) && m !== f.userId && m !== f.conversationId)).toEqual([]);
    expect((await api(`/v1/tasks/${bTask}`, {}, keys.admin)).status).toBe(404);
    expect(await snapshotA()).toEqual(before);
  }, 120_000);

  it('each role of tenant A gets 2xx exactly where the matrix allows it and 403 elsewhere; no key is 401; never a 5xx', async () => {
    const got: string[] = [];
    const want: string[] = [];
    for (const r of routes) {
      const w = walkerOf(r);
      if (!w || matrixOf(r) === undefined) continue; // reported by 'every documented route has a walker entry'
      for (const role of ROLES) {
        const ok = allowed(r, role);
        const call = await w.call(f, { kind: 'role', role, allowed: ok }, helpers);
        const res = await http(r.service, r.method, pathOf(r, call.params), keys[role], call, w.sse);
        const cls = res.status >= 200 && res.status < 300 ? '2xx' : String(res.status);
        got.push(`${routeKey(r)} as ${role}: ${cls}${cls === '2xx' || cls === '403' ? '' : ` ${res.text.slice(0, 200)}`}`);
        want.push(`${routeKey(r)} as ${role}: ${ok ? '2xx' : '403'}`);
      }
      // No key, a malformed header and an unknown key: 401 on every protected route; public routes answer anyway.
      const call = await w.call(f, { kind: 'role', role: 'viewer', allowed: false }, helpers);
      for (const [label, header] of [['no key', undefined], ['basic auth', 'Basic Zm9vOmJhcg=='], ['unknown key', `Bearer keel_${randomUUID()}`]] as const) {
        const res = await http(r.service, r.method, pathOf(r, call.params), undefined, { ...call, headers: { ...call.headers, ...(header ? { Authorization: header } : {}) } }, w.sse);
        const isPublic = matrixOf(r) === 'public';
        got.push(`${routeKey(r)} with ${label}: ${isPublic && res.status >= 200 && res.status < 300 ? '2xx' : res.status}`);
        want.push(`${routeKey(r)} with ${label}: ${isPublic ? '2xx' : 401}`);
      }
    }
    expect(got).toEqual(want);
  }, 180_000);
});
