// Tenant isolation under a noisy neighbour: tenant B's request latency alone, then while tenant A
// hammers POST /v1/tasks with many concurrent clients. Printed, never asserted.
//   node tools/build-quiet.mjs && node bench/tenant-isolation.bench.mjs [--requests 300] [--clients 200] [--polite] [--remote-a] [--json]
//
// Five services as processes (startKeel: private nats-server, fresh database, dropped at the end), with
// the shipped default rate limits (KEEL_RATE_TENANT_RPS 50, burst 100, 600 tasks/min) for every tenant
// but B, which gets an override high enough that its own limit never answers for it: what is measured
// is how much A's burst slows B, not B's own budget.
//   B unloaded   N sequential GET /v1/tasks/{id} (a task of B's) and N POST /v1/tasks (agent `demo`,
//                scripted model, one-turn script), alternating, one request at a time
//   B loaded     the same, while A runs `--clients` concurrent loops of POST /v1/tasks that ignore
//                Retry-After (in a worker thread, so A's client work does not share B's event loop);
//                `--polite`: A's clients wait Retry-After after a 429, as a well-behaved client does
// The target: B's latency under A's burst within 2x of unloaded. A's 202 / 429 counts are printed.
import { createHash, randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import pg from 'pg';
import testing from '@keel/testing';

const { values } = parseArgs({ options: {
  requests: { type: 'string', default: '300' }, clients: { type: 'string', default: '200' }, polite: { type: 'boolean', default: false },
  // The attacker's client in its own process at the lowest CPU priority: on one shared machine this stands in
  // for "A's load comes from elsewhere" (a real attacker's client does not run on Keel's cores).
  'remote-a': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} });
const N = Number(values.requests);
const CLIENTS = Number(values.clients);
const say = values.json ? () => {} : console.log;
const TARGET_RATIO = 2;

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const stats = (xs) => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99), mean: xs.reduce((a, b) => a + b, 0) / xs.length, n: xs.length });

// A's clients: each loops POST /v1/tasks until told to stop, counting statuses.
const HAMMER = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, key, clients, polite } = workerData;
let stop = false;
const counts = {};
parentPort.on('message', (m) => { if (m === 'stop') stop = true; });
const body = JSON.stringify({ input: 'noisy neighbour', agent: 'demo', metadata: { script: [{ content: 'ok' }] } });
const loop = async () => {
  while (!stop) {
    try {
      const res = await fetch(url + '/v1/tasks', { method: 'POST', headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json' }, body });
      await res.arrayBuffer();
      counts[res.status] = (counts[res.status] ?? 0) + 1;
      if (polite && res.status === 429) await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
    } catch (err) {
      counts.error = (counts.error ?? 0) + 1;
    }
  }
};
parentPort.postMessage('started');
Promise.all(Array.from({ length: clients }, loop)).then(() => parentPort.postMessage({ counts }));
`;

/** The hammer as a separate process under `nice -n 19`, speaking the Worker's message protocol. */
function hammerProcess(data) {
  const code = `const parentPort = { on: (e, f) => process.on(e, f), postMessage: (m) => process.send(m) };
const workerData = JSON.parse(process.env.KEEL_HAMMER);
${HAMMER.replace("const { parentPort, workerData } = require('node:worker_threads');", '')}
process.on('message', (m) => { if (m === 'stop') setTimeout(() => process.exit(0), 2000); });`;
  const child = spawn('nice', ['-n', '19', process.execPath, '-e', code], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, KEEL_HAMMER: JSON.stringify(data) } });
  return { on: (e, f) => child.on(e, f), once: (e, f) => child.once(e, f), postMessage: (m) => child.send(m) };
}

let keel;
let db;
try {
  const keyB = `keel_bench_b_${randomUUID()}`;
  keel = await testing.startKeel({
    env: {
      LOG_LEVEL: 'warn',
      // The shipped defaults (the harness raises them for other suites) ...
      KEEL_RATE_TENANT_RPS: '50', KEEL_RATE_TENANT_BURST: '100', KEEL_RATE_USER_RPS: '10', KEEL_RATE_USER_BURST: '20', KEEL_RATE_TENANT_TASKS_PER_MIN: '600',
      // ... except for B, whose own limit must not be what is measured.
      KEEL_RATE_OVERRIDES: JSON.stringify({ 'tenant-b': { rps: 100_000, burst: 100_000, tasksPerMin: 6_000_000 } }),
    },
  });
  const url = keel.url('orchestrator');
  db = new pg.Client({ connectionString: keel.db.url });
  await db.connect();
  await db.query(`INSERT INTO orchestrator.api_keys (id, tenant, role, name, prefix, key_hash) VALUES ($1, 'tenant-b', 'admin', 'bench-b', 'keel_ben', $2)`,
    [randomUUID(), createHash('sha256').update(keyB).digest('hex')]);
  const headersB = { Authorization: `Bearer ${keyB}`, 'Content-Type': 'application/json' };
  const postBody = JSON.stringify({ input: 'tenant B', agent: 'demo', metadata: { script: [{ content: 'ok' }] } });

  const statusesB = {};
  const timed = async (init, path) => {
    const t0 = performance.now();
    const res = await fetch(`${url}${path}`, init);
    const body = await res.json();
    const ms = performance.now() - t0;
    statusesB[res.status] = (statusesB[res.status] ?? 0) + 1;
    return { ms, status: res.status, body };
  };
  const seed = await timed({ method: 'POST', headers: headersB, body: postBody }, '/v1/tasks');
  if (seed.status !== 202) throw new Error(`seed task: HTTP ${seed.status} ${JSON.stringify(seed.body)}`);
  const measureB = async (n) => {
    const get = [];
    const post = [];
    for (let i = 0; i < n; i++) {
      get.push((await timed({ headers: headersB }, `/v1/tasks/${seed.body.id}`)).ms);
      post.push((await timed({ method: 'POST', headers: headersB, body: postBody }, '/v1/tasks')).ms);
    }
    return { get: stats(get), post: stats(post) };
  };

  say(`tenant isolation: ${N} GET + ${N} POST from B, unloaded then under A's ${CLIENTS} concurrent clients${values.polite ? ' (honouring Retry-After)' : ' (ignoring Retry-After)'}${values['remote-a'] ? ', A in its own process at nice 19' : ', A in a worker thread of this process'}; ${cpus().length} CPUs, load ${loadavg()[0].toFixed(2)}`);
  await measureB(Math.min(30, N)); // warm-up
  const unloaded = await measureB(N);

  const data = { url, key: keel.apiKey, clients: CLIENTS, polite: values.polite };
  const worker = values['remote-a']
    ? hammerProcess(data)
    : new Worker(HAMMER, { eval: true, workerData: data });
  const finished = new Promise((resolve, reject) => {
    worker.on('message', (m) => { if (m?.counts) resolve(m.counts); });
    worker.on('error', reject);
  });
  await new Promise((r) => worker.once('message', r)); // started
  await new Promise((r) => setTimeout(r, 1000)); // A's burst is spent and it is being limited
  const t0 = performance.now();
  const loaded = await measureB(N);
  const loadedSeconds = (performance.now() - t0) / 1000;
  worker.postMessage('stop');
  const countsA = await finished;
  await worker.terminate?.();

  const totalA = Object.values(countsA).reduce((a, b) => a + b, 0);
  const ratio = (k, p) => loaded[k][p] / unloaded[k][p];
  const row = (name, k) => `| ${name} | ${unloaded[k].p50.toFixed(2)} | ${unloaded[k].p99.toFixed(2)} | ${loaded[k].p50.toFixed(2)} | ${loaded[k].p99.toFixed(2)} | ${ratio(k, 'p50').toFixed(2)}x | ${ratio(k, 'p99').toFixed(2)}x |`;
  say('');
  say('| B request | unloaded p50 (ms) | unloaded p99 (ms) | under A p50 (ms) | under A p99 (ms) | p50 ratio | p99 ratio |');
  say('|:--|--:|--:|--:|--:|--:|--:|');
  say(row('GET /v1/tasks/{id}', 'get'));
  say(row('POST /v1/tasks', 'post'));
  say('');
  say(`target: within ${TARGET_RATIO}x of unloaded: GET p50 ${ratio('get', 'p50') <= TARGET_RATIO ? 'met' : 'not met'}, p99 ${ratio('get', 'p99') <= TARGET_RATIO ? 'met' : 'not met'}; POST p50 ${ratio('post', 'p50') <= TARGET_RATIO ? 'met' : 'not met'}, p99 ${ratio('post', 'p99') <= TARGET_RATIO ? 'met' : 'not met'}`);
  say(`A: ${totalA} requests in ~${(loadedSeconds + 1).toFixed(1)} s (${(totalA / (loadedSeconds + 1)).toFixed(0)}/s): ${countsA[202] ?? 0} accepted (202), ${countsA[429] ?? 0} refused (429, ${((100 * (countsA[429] ?? 0)) / Math.max(1, totalA)).toFixed(1)} %), other ${JSON.stringify(Object.fromEntries(Object.entries(countsA).filter(([k]) => k !== '202' && k !== '429')))}`);
  say(`B: statuses ${JSON.stringify(statusesB)}`);
  if (values.json) {
    console.log(JSON.stringify({ unloaded, loaded, ratios: { getP50: ratio('get', 'p50'), getP99: ratio('get', 'p99'), postP50: ratio('post', 'p50'), postP99: ratio('post', 'p99') }, a: countsA, b: statusesB, clients: CLIENTS, polite: values.polite, requests: N }));
  }
} finally {
  await db?.end().catch(() => undefined);
  await keel?.stop();
}
