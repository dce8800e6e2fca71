import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { DeadLetter } from '@keel/contracts';
import { startKeel, startNats, startPostgres, waitFor } from '@keel/testing';
import type { KeelStack, ServiceName, TestNats, TestPostgres } from '@keel/testing';

/**
 * Durable execution under chaos: two orchestrator replicas and all services on
 * a private NATS and a private Postgres cluster; 100 tasks, each making five
 * POSTs through http_request to a local sink that honours Idempotency-Key like
 * a real API; service processes SIGKILLed at random every ~0.5 s and restarted.
 * Every task must end, every side effect must happen exactly once, no task may
 * be lost; the second test also restarts NATS and Postgres once mid-run.
 */
const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');
const TASKS = 100;
const CALLS = 5;
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];
/** Submissions are spread over this long, while the chaos runs. */
const SUBMIT_SPREAD_MS = 30_000;
/** Chaos runs at least until every task is submitted and this long, at most CHAOS_MAX_MS. */
const CHAOS_MIN_MS = 40_000;
const CHAOS_MAX_MS = 45_000;
/**
 * After the chaos: time for every task to end. A step that failed 6 deliveries in a row during
 * the chaos sits in a nak backoff of 32–48 s (1, 2, 4, 8, 16, 32 s + up to 50 % jitter).
 */
const SETTLE_MS = 75_000;
/** The sink answers after up to this long, so some kills land between the side effect and its answer. */
const SINK_LATENCY_MS = 300;
const CHAOS_TARGETS: [ServiceName, number][] = [['orchestrator', 0], ['orchestrator', 1], ['tool-executor', 0], ['router', 0], ['guardrail', 0]];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stdout.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);

/** A remote API that honours Idempotency-Key: the first request with a key applies, later ones replay its response. */
interface Sink {
  port: number;
  /** Raw requests per key, duplicates included. */
  requests: Map<string, number>;
  /** Key → the body it applied. */
  applied: Map<string, string>;
  /** Body → how many times it was applied (under any key): > 1 is a duplicate side effect. */
  appliedBodies: Map<string, number>;
  /** Requests whose key had been applied with a different body. */
  mismatches: string[];
  withoutKey: number;
  close(): Promise<void>;
}

async function startSink(): Promise<Sink> {
  const s: Omit<Sink, 'port' | 'close'> = { requests: new Map(), applied: new Map(), appliedBodies: new Map(), mismatches: [], withoutKey: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = req.headers['idempotency-key'];
      const body = Buffer.concat(chunks).toString();
      if (typeof key !== 'string') {
        s.withoutKey++;
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"Idempotency-Key required"}');
        return;
      }
      s.requests.set(key, (s.requests.get(key) ?? 0) + 1);
      const before = s.applied.get(key);
      if (before !== undefined) {
        if (before !== body) s.mismatches.push(`${key}: applied ${before}, then got ${body}`);
        res.writeHead(201, { 'content-type': 'application/json', 'idempotent-replayed': 'true' }).end(JSON.stringify({ applied: key }));
        return;
      }
      s.applied.set(key, body);
      s.appliedBodies.set(body, (s.appliedBodies.get(body) ?? 0) + 1);
      // Applied at once, answered after a while (like a real API): a kill in between leaves the call in doubt.
      setTimeout(() => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ applied: key })), Math.random() * SINK_LATENCY_MS);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    ...s,
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

interface TaskRow { id: string; status: string; step: number; error: { code: string; message: string } | null; idempotency_key: string }

/** One short-lived connection per query: Postgres may be restarting under us. */
async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function chaosRun(opts: { infraRestarts: boolean }): Promise<void> {
  const started = Date.now();
  const runId = Math.random().toString(36).slice(2, 8);
  let pg: TestPostgres | undefined;
  let nats: TestNats | undefined;
  let keel: KeelStack | undefined;
  const sink = await startSink();
  const agentsDir = mkdtempSync(join(tmpdir(), 'keel-chaos-agents-'));
  try {
    writeFileSync(join(agentsDir, 'chaos.yaml'), `
name: chaos
model: scripted/default
systemPrompt: You are the chaos test agent.
tools:
  - name: http_request
    allow: ["127.0.0.1:${sink.port}"]
    risk: auto
limits: {maxSteps: 20, stepTimeoutMs: 20000, taskTimeoutMs: 240000, toolTimeoutMs: 5000}
`);
    pg = await startPostgres();
    nats = await startNats();
    keel = await startKeel({
      agentsDir, databaseUrl: pg.url(), nats,
      replicas: { orchestrator: 2 },
      env: {
        // A replica killed every ~1.25 s: redeliver its steps after 2 s, not 10.
        KEEL_STEP_ACK_WAIT_MS: '2000',
        // With a dependency down most of the time, the default 5 deliveries would fail tasks with
        // step_failed (a legitimate outcome, but it would hide what this test checks: exactly once).
        KEEL_STEP_MAX_DELIVER: '100',
        KEEL_SHUTDOWN_TIMEOUT_MS: '2000',
      },
    });
    const stack = keel;
    const dbUrl = pg.url();
    log(`stack up in ${Date.now() - started} ms (sink :${sink.port}, ${opts.infraRestarts ? 'with' : 'without'} NATS and Postgres restarts)`);

    // --- submissions: steady pace, each retried with its Idempotency-Key until accepted.
    const ids = new Array<string | undefined>(TASKS);
    const submitErrors = new Map<string, number>();
    const script = (i: number) => [
      ...Array.from({ length: CALLS }, (_, n) => ({
        toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `http://127.0.0.1:${sink.port}/orders`, body: { order: `${i}-${n + 1}` } } }],
        confidence: 0.99,
      })),
      { content: `task ${i} done` },
    ];
    const submit = async (i: number) => {
      const body = JSON.stringify({ input: `chaos task ${i}`, agent: 'chaos', metadata: { script: script(i) } });
      for (let attempt = 0; ; attempt++) {
        const replica = (i + attempt) % 2;
        try {
          const res = await fetch(`${stack.url('orchestrator', replica)}/v1/tasks`, {
            method: 'POST', body, signal: AbortSignal.timeout(5000),
            headers: { Authorization: `Bearer ${stack.apiKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': `chaos-${runId}-${i}` },
          });
          if (res.status === 202 || res.status === 200) {
            const { id } = (await res.json()) as { id: string };
            if (ids[i] !== undefined && ids[i] !== id) throw new Error(`task ${i}: a retried submit returned ${id}, first ${ids[i]}`);
            ids[i] = id;
            return;
          }
          const text = await res.text();
          const k = `HTTP ${res.status} ${text.slice(0, 80)}`;
          submitErrors.set(k, (submitErrors.get(k) ?? 0) + 1);
          if (res.status < 500 && res.status !== 429) throw new Error(`task ${i} refused: ${k}`);
        } catch (err) {
          if (err instanceof Error && /refused:|retried submit/.test(err.message)) throw err;
          const k = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message).slice(0, 60) : String(err);
          submitErrors.set(k, (submitErrors.get(k) ?? 0) + 1);
        }
        // Both orchestrators may be down for long stretches of the chaos; they are back for good once it stops.
        if (Date.now() - chaosStart > CHAOS_MAX_MS + 30_000) throw new Error(`task ${i} could not be submitted`);
        await sleep(200);
      }
    };
    const chaosStart = Date.now();
    const submissions = Promise.all(Array.from({ length: TASKS }, async (_, i) => {
      await sleep((i * SUBMIT_SPREAD_MS) / TASKS);
      await submit(i);
    }));
    let submitted = false;
    const submitDone = submissions.then(() => { submitted = true; log(`all ${TASKS} tasks submitted after ${Date.now() - chaosStart} ms`); });
    submitDone.catch(() => undefined); // awaited (and rethrown) after the chaos stops

    // --- chaos: SIGKILL a random service process every ~0.5 s and start it again at once.
    const kills = new Map<string, number>();
    let stopChaos = false;
    const chaos = (async () => {
      while (!stopChaos) {
        await sleep(300 + Math.random() * 400);
        const [s, r] = CHAOS_TARGETS[Math.floor(Math.random() * CHAOS_TARGETS.length)];
        await stack.restart(s, r, { wait: false });
        kills.set(`${s}.${r}`, (kills.get(`${s}.${r}`) ?? 0) + 1);
      }
    })();
    const infra = opts.infraRestarts ? (async () => {
      await sleep(CHAOS_MIN_MS / 3);
      let t = Date.now();
      await nats.restart();
      log(`NATS restarted in ${Date.now() - t} ms`);
      await sleep(CHAOS_MIN_MS / 3);
      t = Date.now();
      await pg.restart();
      log(`Postgres restarted in ${Date.now() - t} ms`);
    })() : Promise.resolve();

    while (!(submitted && Date.now() - chaosStart >= CHAOS_MIN_MS) && Date.now() - chaosStart < CHAOS_MAX_MS) await sleep(100);
    stopChaos = true;
    await chaos;
    await infra;
    log(`chaos stopped after ${Date.now() - chaosStart} ms: ${[...kills].map(([k, n]) => `${k}×${n}`).join(', ')}`);
    await submitDone;
    log(`submit retries: ${JSON.stringify(Object.fromEntries(submitErrors))}`);

    // --- settle: every process back, every task terminal.
    for (const p of stack.processes()) if (!p.running) await stack.start(p.service, p.replica, { wait: false });
    await Promise.all(stack.processes().map((p) => waitFor(`${p.service}.${p.replica} ready`, async () => {
      const res = await fetch(`http://127.0.0.1:${p.port}/readyz`).catch(() => null);
      return res?.ok ?? false;
    }, 30_000, 200)));
    const settleStart = Date.now();
    let rows: TaskRow[] = [];
    let polls = 0;
    for (;;) {
      rows = await query<TaskRow>(dbUrl, 'SELECT id, status, step, error, idempotency_key FROM orchestrator.tasks').catch(() => rows);
      const open = rows.filter((r) => !TERMINAL.includes(r.status)).length;
      if ((rows.length >= TASKS && open === 0) || Date.now() - settleStart > SETTLE_MS) break;
      if (++polls % 10 === 0) log(`settling: ${rows.length} tasks, ${open} not terminal`);
      await sleep(1000);
    }
    const byStatus = rows.reduce<Record<string, number>>((a, r) => ({ ...a, [r.status]: (a[r.status] ?? 0) + 1 }), {});
    log(`settled in ${Date.now() - settleStart} ms: ${rows.length} tasks ${JSON.stringify(byStatus)}`);

    // --- diagnostics (printed before the assertions, so a failure explains itself).
    const stuck = rows.filter((r) => !TERMINAL.includes(r.status));
    for (const r of stuck.slice(0, 10)) {
      const events = await query<{ seq: number; type: string; data: unknown }>(dbUrl, 'SELECT seq, type, data FROM orchestrator.task_events WHERE task_id = $1 ORDER BY seq DESC LIMIT 6', [r.id]);
      const ledger = await query<{ idempotency_key: string; status: string; attempts: number }>(dbUrl, 'SELECT idempotency_key, status, attempts FROM tool_executor.ledger WHERE task_id = $1 ORDER BY step', [r.id]);
      log(`STUCK ${r.id} status=${r.status} step=${r.step}\n  last events: ${JSON.stringify(events.reverse())}\n  ledger: ${JSON.stringify(ledger)}`);
    }
    const failed = rows.filter((r) => TERMINAL.includes(r.status) && r.status !== 'succeeded');
    for (const r of failed.slice(0, 10)) log(`NOT SUCCEEDED ${r.id} ${r.status} step=${r.step} ${JSON.stringify(r.error)}`);
    for (const r of failed.slice(0, 2)) {
      const events = await query<{ seq: number; type: string; data: Record<string, unknown> }>(dbUrl, 'SELECT seq, type, data FROM orchestrator.task_events WHERE task_id = $1 ORDER BY seq', [r.id]);
      const ledger = await query<{ idempotency_key: string; status: string; attempts: number; args_hash: string }>(dbUrl, 'SELECT idempotency_key, status, attempts, args_hash FROM tool_executor.ledger WHERE task_id = $1 ORDER BY step', [r.id]);
      log(`events of ${r.id}: ${events.map((e) => `${e.type}${typeof e.data.step === 'number' ? `[${e.data.step}]` : ''}${typeof e.data.reason === 'string' ? `(${e.data.reason})` : ''}${e.type === 'tool.completed' ? `{${String(e.data.replayed)}}` : ''}`).join(' ')}`);
      log(`ledger of ${r.id}: ${ledger.map((l) => `${l.idempotency_key.split(':').slice(1).join(':')}=${l.status}/${l.attempts}/${l.args_hash.slice(0, 6)}`).join(' ')}`);
      log(`sink bodies of ${r.id}: ${[...sink.applied].filter(([k]) => k.startsWith(r.id)).map(([k, b]) => `${k.split(':')[1]}→${b}`).join(' ')}`);
    }
    if (failed.length) log(`not succeeded by code: ${JSON.stringify(failed.reduce<Record<string, number>>((a, r) => ({ ...a, [r.error?.code ?? r.status]: (a[r.error?.code ?? r.status] ?? 0) + 1 }), {}))}`);
    const letters = await run(process.execPath, [join(ROOT, 'tools/cli/dist/main.js'), 'dead-letters', '--json', '--limit', '1000'], { env: { ...process.env, NATS_URL: nats.url } })
      .then(({ stdout }) => JSON.parse(stdout) as DeadLetter[]).catch((err: Error) => { log(`dead-letters: ${err.message}`); return []; });
    if (letters.length) log(`dead letters: ${JSON.stringify(letters.reduce<Record<string, number>>((a, l) => ({ ...a, [`${l.subject} ${l.reason}`]: (a[`${l.subject} ${l.reason}`] ?? 0) + 1 }), {}))}`);
    for (const l of letters.slice(0, 5)) log(`dead letter ${l.subject} ${l.reason}: ${l.error.message.slice(0, 300)}; data ${JSON.stringify(l.data.slice(0, 200))}; headers ${JSON.stringify(l.headers)}`);
    // Where the time went: the slowest tasks' event timelines (seconds since submit).
    const slow = await query<{ id: string; secs: number; timeline: string }>(dbUrl, `
      SELECT t.id, extract(epoch FROM t.finished_at - t.created_at)::float AS secs,
             string_agg(e.type || '@' || round(extract(epoch FROM e.at - t.created_at)::numeric, 1), ' ' ORDER BY e.seq) AS timeline
        FROM orchestrator.tasks t JOIN orchestrator.task_events e ON e.task_id = t.id
       WHERE t.finished_at IS NOT NULL GROUP BY t.id ORDER BY secs DESC LIMIT 3`).catch(() => []);
    for (const t of slow) log(`slow task ${t.id} ${t.secs.toFixed(1)} s: ${t.timeline}`);
    const inDoubt = await query<{ n: string; retried: string }>(dbUrl, "SELECT count(*) FILTER (WHERE status = 'started') AS n, count(*) FILTER (WHERE attempts > 1) AS retried FROM tool_executor.ledger").catch(() => []);
    const rawRequests = [...sink.requests.values()].reduce((a, b) => a + b, 0);
    const replayedKeys = [...sink.requests.values()].filter((n) => n > 1).length;
    log(`sink: ${rawRequests} requests, ${sink.applied.size} keys applied, ${rawRequests - sink.applied.size} duplicate requests on ${replayedKeys} keys de-duplicated by Idempotency-Key; ledger: ${JSON.stringify(inDoubt[0])}`);

    // --- assertions.
    expect(ids.filter((x) => x === undefined)).toHaveLength(0);
    expect(rows).toHaveLength(TASKS); // none lost, none created twice
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
    expect(stuck.map((r) => `${r.id} ${r.status}`)).toEqual([]);
    expect(failed.map((r) => `${r.id} ${r.status} ${r.error?.code}`)).toEqual([]);
    expect(sink.withoutKey).toBe(0);
    expect(sink.mismatches).toEqual([]);
    // Exactly once by effect, not only by key: each distinct body (task i, call n) applied once.
    expect([...sink.appliedBodies].filter(([, n]) => n > 1)).toEqual([]);
    const expectedKeys = new Set(rows.flatMap((r) => Array.from({ length: CALLS }, (_, n) => `${r.id}:${n + 1}:0`)));
    const missing = [...expectedKeys].filter((k) => !sink.applied.has(k));
    const unexpected = [...sink.applied.keys()].filter((k) => !expectedKeys.has(k));
    expect({ missing, unexpected }).toEqual({ missing: [], unexpected: [] });
    // Each key carries the body of its own task and call.
    const bodyOf = new Map<string, string>(ids.flatMap((id, i) => Array.from({ length: CALLS }, (_, n): [string, string] => [`${id}:${n + 1}:0`, JSON.stringify({ order: `${i}-${n + 1}` })])));
    expect([...sink.applied].filter(([k, b]) => JSON.parse(b) === null || JSON.stringify(JSON.parse(b)) !== bodyOf.get(k))).toEqual([]);
    // Under chaos every message is still valid and, with 100 deliveries allowed, processed: no dead letters.
    expect(letters.map((l) => `${l.subject} ${l.reason}: ${l.error.message.slice(0, 120)}`)).toEqual([]);
    log(`done in ${Date.now() - started} ms`);
  } catch (err) {
    if (keel) {
      // Warnings and errors of every process (all its lives), grouped by message.
      for (const p of keel.processes()) {
        const counts = new Map<string, number>();
        for (const line of keel.logs(p.service, p.replica).split('\n')) {
          let entry: { level?: number; msg?: string; err?: { code?: string; message?: string } } = {};
          try {
            entry = JSON.parse(line) as typeof entry;
          } catch {
            continue; // a line split across output chunks, or not JSON
          }
          if ((entry.level ?? 0) < 40) continue;
          const k = `${entry.level} ${entry.msg}${entry.err ? ` (${entry.err.code ?? ''} ${(entry.err.message ?? '').slice(0, 90)})` : ''}`;
          const g = k.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').replace(/\d+/g, 'N');
          counts.set(g, (counts.get(g) ?? 0) + 1);
        }
        if (counts.size) log(`${p.service}.${p.replica} warnings/errors:\n${[...counts].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, n]) => `  ${n}× ${k}`).join('\n')}`);
      }
    }
    throw err;
  } finally {
    await keel?.stop().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    await sink.close();
    rmSync(agentsDir, { recursive: true, force: true });
  }
}

describe('Durable execution under chaos (SIGKILLs every ~0.5 s, two orchestrator replicas)', () => {
  it('runs 100 tasks × 5 side effects to the end, each side effect exactly once', async () => {
    await chaosRun({ infraRestarts: false });
  }, 145_000);

  it('does the same while NATS and Postgres are each restarted once mid-run', async () => {
    await chaosRun({ infraRestarts: true });
  }, 145_000);
});
