import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { TERMINAL_STATUSES } from '@keel/contracts';
import { insertApiKey, keelClient, startKeel } from '@keel/testing';
import type { KeelStack } from '@keel/testing';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'tools/cli/dist/main.js');
const exec = promisify(execFile);

interface StepCall { index: number; name: string; arguments: Record<string, unknown>; result: string | null; ok?: boolean; replayed?: boolean; replayedFrom?: string }
interface StepView { step: number; model: string | null; calls: StepCall[]; output: string | null }
interface Comparison {
  fromStep: number;
  overrides: { model?: string; liveTools: boolean };
  original: { id: string; status: string; steps: number; output: string | null } | null;
  replay: { id: string; status: string; steps: number; output: string | null };
  steps: { step: number; shared: boolean; original: StepView | null; replay: StepView | null }[];
}

/** The JSON inside a spotlighted tool message (datamarked: spaces became ˆ). */
const toolJson = (content: string | null): unknown => JSON.parse((content ?? '').replace(/^<tool_output[^>]*>\n/, '').replace(/\n<\/tool_output>$/, '').replace(/\u02c6/g, ' '));

/**
 * Replay on the five services as processes: a recorded task that POSTed three
 * orders to a local sink is re-run from step 2 with another model and script.
 * Its first two steps are the original's (same stored messages), the call at
 * the original's position returns the recorded result without reaching the
 * sink, a new call does reach it (once, under the replay's own key), and the
 * new steps are answered by the new model. Also: the CLI's side-by-side view,
 * a replay of a replay, live tools, and the API's refusals.
 */
describe('replay (five processes)', () => {
  let keel: KeelStack;
  let sink: Server;
  let sinkUrl: string;
  let db: Client;
  /** Sink requests by Idempotency-Key (http_request sends the call's key). */
  const hits = new Map<string, number>();
  let otherTenantKey: string;

  const { submit: submitTask, waitStatus, events } = keelClient(() => keel);
  const call = <T = Record<string, unknown>>(path: string, init?: RequestInit, apiKey?: string) => keelClient(keel, { apiKey }).call<T>(path, init);
  const finished = (id: string) => waitStatus(id, TERMINAL_STATUSES);
  const post = (n: number) => ({ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sinkUrl}/orders`, body: { order: n } } }], confidence: 0.99 });
  const submit = (script: unknown[]) => submitTask({ input: 'place the orders', agent: 'shop', metadata: { script } });
  const replay = (id: string, body: Record<string, unknown>, key?: string) =>
    call<{ id: string; status: string; replayOf: string; fromStep: number; error?: { code: string; message: string } }>(`/v1/tasks/${id}/replay`, { method: 'POST', body: JSON.stringify(body) }, key);
  const hashes = async (id: string): Promise<string[]> =>
    (await db.query<{ hash: string }>('SELECT hash FROM orchestrator.task_messages WHERE task_id = $1 ORDER BY idx', [id])).rows.map((r) => r.hash);
  const hitsOf = (taskId: string) => [...hits].filter(([k]) => k.startsWith(`${taskId}:`)).sort();
  const totalHits = () => [...hits.values()].reduce((a, b) => a + b, 0);

  let original: string;
  let first: string;

  beforeAll(async () => {
    sink = createServer((req, res) => {
      const key = String(req.headers['idempotency-key']);
      hits.set(key, (hits.get(key) ?? 0) + 1);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: true, key }));
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as { port: number }).port;
    sinkUrl = `http://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'keel-replay-'));
    writeFileSync(join(dir, 'shop.yaml'), [
      'name: shop',
      'model: scripted/default',
      'systemPrompt: You place orders.',
      'tools:',
      '  - name: http_request',
      `    allow: ["127.0.0.1:${port}"]`,
      '    risk: auto',
      'limits: {taskTimeoutMs: 60000}',
      '',
    ].join('\n'));
    keel = await startKeel({ agentsDir: dir });
    db = new Client({ connectionString: keel.db.url });
    await db.connect();
    otherTenantKey = (await insertApiKey(db, 'other', 'admin')).key;

    original = await submit([post(1), post(2), post(3), { content: '3 orders placed' }]);
    const t = await finished(original);
    expect({ status: t.status, steps: t.steps }).toEqual({ status: 'succeeded', steps: 4 });
    expect(hitsOf(original)).toEqual([[`${original}:1:0`, 1], [`${original}:2:0`, 1], [`${original}:3:0`, 1]]);
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await keel?.stop();
    sink?.close();
  });

  it('replays from step 2 with another model: shared steps are the original\'s, a call at a recorded position is not repeated, new steps use the new model', async () => {
    const before = totalHits();
    const { status, body } = await replay(original, {
      fromStep: 2, model: 'scripted/other',
      metadata: { script: [post(3), post(4), { content: '4 orders placed' }] },
    });
    expect(status).toBe(202);
    expect(body).toEqual({ id: expect.any(String), status: 'running', replayOf: original, fromStep: 2 });
    first = body.id;
    const t = await finished(first);
    expect({ status: t.status, steps: t.steps, output: t.output }).toEqual({ status: 'succeeded', steps: 5, output: '4 orders placed' });

    // Steps 1-2 are the original's stored messages (system, user, 2 × (call, result)), by hash.
    const [o, r] = [await hashes(original), await hashes(first)];
    expect(r.slice(0, 6)).toEqual(o.slice(0, 6));
    // The sink: only the new call (step 4) reached it, once, under the replay's own key.
    expect(totalHits() - before).toBe(1);
    expect(hitsOf(first)).toEqual([[`${first}:4:0`, 1]]);
    expect(hitsOf(original).every(([, n]) => n === 1)).toBe(true);

    const ev = await events(first);
    // No step of the shared part ran again; every new model turn came from the new model.
    expect(ev.filter((e) => e.type === 'step.started').map((e) => e.data.step)).toEqual([3, 4, 5]);
    expect(ev.filter((e) => e.type === 'model.completed').map((e) => e.data.model)).toEqual(['scripted/other', 'scripted/other', 'scripted/other']);
    const tools = ev.filter((e) => e.type === 'tool.completed').map((e) => e.data);
    expect(tools).toEqual([
      expect.objectContaining({ step: 3, index: 0, ok: true, replayed: true, replayedFrom: `${original}:3:0`, idempotencyKey: `${first}:3:0` }),
      expect.objectContaining({ step: 4, index: 0, ok: true, replayed: false }),
    ]);
    expect(tools[1]).not.toHaveProperty('replayedFrom');
    // The recorded call is kept under the replay's key too (a replay of this replay finds it).
    const ledger = await db.query('SELECT status FROM tool_executor.ledger WHERE idempotency_key = $1', [`${first}:3:0`]);
    expect(ledger.rows).toEqual([{ status: 'succeeded' }]);

    // Side by side: shared steps equal (calls, arguments, results), the replayed call has the recorded result.
    const { status: cs, body: c } = await call<Comparison>(`/v1/tasks/${first}/compare`);
    expect(cs).toBe(200);
    expect(c.fromStep).toBe(2);
    expect(c.overrides).toEqual({ model: 'scripted/other', liveTools: false });
    expect(c.original).toMatchObject({ id: original, status: 'succeeded', steps: 4, output: '3 orders placed' });
    expect(c.steps.map((s) => [s.step, s.shared])).toEqual([[1, true], [2, true], [3, false], [4, false], [5, false]]);
    for (const s of c.steps.slice(0, 2)) {
      expect(s.replay!.calls.map(({ name, arguments: a, result }) => ({ name, a, result }))).toEqual(s.original!.calls.map(({ name, arguments: a, result }) => ({ name, a, result })));
    }
    expect(c.steps[0].original!.model).toBe('scripted/default');
    const [o3, r3] = [c.steps[2].original!.calls[0], c.steps[2].replay!.calls[0]];
    expect(r3).toMatchObject({ name: 'http_request', arguments: o3.arguments, replayedFrom: `${original}:3:0` });
    // The same answer (the ledger stores it as jsonb: equal as JSON, keys possibly in another order).
    expect(toolJson(r3.result)).toEqual(toolJson(o3.result));
    const recorded = await db.query<{ idempotency_key: string; result: { body: { key: string } } }>(
      'SELECT idempotency_key, result FROM tool_executor.ledger WHERE idempotency_key = ANY($1) ORDER BY idempotency_key', [[`${original}:3:0`, `${first}:3:0`]]);
    expect(recorded.rows).toHaveLength(2);
    expect(recorded.rows[0].result).toEqual(recorded.rows[1].result);
    // The sink echoes the key of the request it answered: the replay's step 3 answer is the original's call.
    expect(recorded.rows.map((x) => x.result.body.key)).toEqual([`${original}:3:0`, `${original}:3:0`]);
    expect(c.steps[2].replay!.model).toBe('scripted/other');
    expect(c.steps[4]).toMatchObject({ original: null, replay: { output: '4 orders placed' } });
  }, 60_000);

  it('keel replay prints both runs side by side, and --json the comparison', async () => {
    expect(existsSync(CLI)).toBe(true);
    const env = { ...process.env, KEEL_URL: keel.url('orchestrator'), KEEL_API_KEY: keel.apiKey, NO_COLOR: '1' };
    const script = JSON.stringify([post(3), { content: 'replayed by the CLI' }]);
    const before = totalHits();
    const { stdout } = await exec(process.execPath, [CLI, 'replay', original, '--from-step', '2', '--model', 'scripted/other', '--script', script, '--wait'], { env, timeout: 60_000 });
    expect(stdout).toMatch(new RegExp(`replay [0-9a-f-]{36} of ${original} from step 2 · model scripted/other`));
    expect(stdout).toMatch(/^1 =\s+model scripted\/default\s+= shared$/m);
    expect(stdout).toMatch(/^2 =\s+model scripted\/default\s+= shared$/m);
    expect(stdout).toMatch(/^3 new\s+model scripted\/default\s+model scripted\/other$/m);
    expect(stdout).toContain(`(recorded ${original.slice(0, 8)}…:3:0)`);
    expect(stdout).toMatch(/output\s+"3 orders placed"\s+"replayed by the CLI"/);
    expect(totalHits()).toBe(before);

    const { stdout: json } = await exec(process.execPath, [CLI, 'replay', original, '--from-step', '3', '--script', JSON.stringify([{ content: 'only the answer' }]), '--wait', '--json'], { env, timeout: 60_000 });
    const c = JSON.parse(json) as Comparison;
    expect(c.original!.id).toBe(original);
    expect(c.steps.filter((s) => s.shared).map((s) => s.step)).toEqual([1, 2, 3]);
    expect(c.replay).toMatchObject({ status: 'succeeded', output: 'only the answer', steps: 4 });
    // No model override: the replay runs the agent's model.
    expect(c.steps[3].replay!.model).toBe('scripted/default');
  }, 120_000);

  it('replays a replay: each call is looked up in the task that ran it, and the replay\'s model carries over', async () => {
    expect(first).toBeDefined();
    const before = totalHits();
    // From step 1 of the first replay: its step 2 is the original's, its step 3 its own (recorded from the original).
    const a = await replay(first, { fromStep: 1, model: 'scripted/third', metadata: { script: [post(2), post(3), { content: 'again' }] } });
    expect(a.status).toBe(202);
    expect((await finished(a.body.id)).status).toBe('succeeded');
    const aTools = (await events(a.body.id)).filter((e) => e.type === 'tool.completed').map((e) => [e.data.step, e.data.replayedFrom]);
    expect(aTools).toEqual([[2, `${original}:2:0`], [3, `${first}:3:0`]]);
    // From step 3 of the first replay, no model given: its step 4 call ran live there, and is reused; its model carries over.
    const b = await replay(first, { fromStep: 3, metadata: { script: [post(4), { content: 'and again' }] } });
    expect(b.status).toBe(202);
    expect((await finished(b.body.id)).status).toBe('succeeded');
    const bEvents = await events(b.body.id);
    expect(bEvents.filter((e) => e.type === 'tool.completed').map((e) => [e.data.step, e.data.replayedFrom])).toEqual([[4, `${first}:4:0`]]);
    expect(bEvents.filter((e) => e.type === 'model.completed').map((e) => e.data.model)).toEqual(['scripted/other', 'scripted/other']);
    // Shared steps of a replay end where its original's did: the cut of the replay of a replay is the original's prefix.
    expect((await hashes(a.body.id)).slice(0, 4)).toEqual((await hashes(original)).slice(0, 4));
    expect(totalHits()).toBe(before);
  }, 60_000);

  it('liveTools runs the calls for real under the replay\'s own keys', async () => {
    const { status, body } = await replay(original, { fromStep: 2, liveTools: true, metadata: { script: [post(3), { content: 'live' }] } });
    expect(status).toBe(202);
    expect((await finished(body.id)).status).toBe('succeeded');
    expect(hitsOf(body.id)).toEqual([[`${body.id}:3:0`, 1]]);
    const tools = (await events(body.id)).filter((e) => e.type === 'tool.completed').map((e) => e.data);
    expect(tools).toEqual([expect.objectContaining({ step: 3, replayed: false })]);
    expect(tools[0]).not.toHaveProperty('replayedFrom');
  }, 60_000);

  it('a new system prompt replaces the recorded system message for the new steps', async () => {
    const { status, body } = await replay(original, { fromStep: 1, systemPrompt: 'You are terse.', metadata: { script: [{ reply: 'echo' }] } });
    expect(status).toBe(202);
    const t = await finished(body.id);
    expect(t.status).toBe('succeeded');
    // The scripted model's echo is the prompt it was given.
    expect(t.output).toContain('You are terse.');
    expect(t.output).not.toContain('You place orders.');
    const [o, r] = [await hashes(original), await hashes(body.id)];
    expect(r[0]).not.toBe(o[0]);
    expect(r.slice(1, 4)).toEqual(o.slice(1, 4));
  }, 60_000);

  it('refuses another tenant\'s task (404), a step out of range (400), a bad body (400), and a task recorded before replay support (409)', async () => {
    const cross = await replay(original, { fromStep: 1 }, otherTenantKey);
    expect(cross.status).toBe(404);
    expect((await call(`/v1/tasks/${first}/compare`, {}, otherTenantKey)).status).toBe(404);
    const high = await replay(original, { fromStep: 5 });
    expect(high.status).toBe(400);
    expect(high.body.error!.message).toMatch(/fromStep must be between 0 and 4/);
    const low = await replay(original, { fromStep: -1 });
    expect(low.status).toBe(400);
    expect(low.body.error!.message).toMatch(/between 0 and 4/);
    expect((await replay(original, { fromStep: 1, model: 'nope' })).status).toBe(400);
    expect((await replay(original, { fromStep: 1, metadata: { replay: {} } })).status).toBe(400);
    expect((await replay(randomUUID(), { fromStep: 1 })).status).toBe(404);
    const notReplay = await call<{ error: { message: string } }>(`/v1/tasks/${original}/compare`);
    expect(notReplay.status).toBe(400);
    expect(notReplay.body.error.message).toMatch(/is not a replay/);

    // A task whose steps do not record where they ended (as before replay support).
    const old = await submit([post(7), post(8), { content: 'old' }]);
    expect((await finished(old)).status).toBe('succeeded');
    await db.query(`UPDATE orchestrator.task_events SET data = data - 'messageCount' WHERE task_id = $1 AND type = 'step.completed'`, [old]);
    const conflict = await replay(old, { fromStep: 1 });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error!.message).toMatch(/recorded before replay support/);
  }, 60_000);
});
