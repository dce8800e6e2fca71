// run_code sandbox and http_request costs, measured on the built tool-executor
// (apps/tool-executor/dist), in this process, without NATS or Postgres: what a
// call costs the executor before any platform overhead. Printed, never asserted.
//   node tools/build-quiet.mjs && node bench/sandbox.bench.mjs [--runs 200] [--warmup 20] [--json]
//
// Series:
//   spawn /bin/true     child_process.spawn of /bin/true: the floor of starting any process from Node
//   sandbox sh/python/node start   ProcessSandbox.run of `true` / `pass` / `0`: launcher, cgroup create and
//                       remove, setpriv, bubblewrap (namespaces, mounts, tmpfs), the interpreter's own start
//   run_code throughput the run_code tool (validation included) running a 2-line python program, sequential and
//                       with 2 and 4 calls in flight; runs per second
//   quickjs eval        run_code with language "js" ("1 + 2" and a 20-line snippet): worker round trip + a fresh
//                       QuickJS runtime and context per call
//   http_request        the http_request tool against a local HTTP server (allow list naming it) vs a plain fetch
//                       (keep-alive) and a plain http.request without keep-alive (what the tool does: no pooling,
//                       so the egress check runs on every connection), round-robin
import { request as httpRequest, createServer } from 'node:http';
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { values } = parseArgs({ options: {
  runs: { type: 'string', default: '200' }, warmup: { type: 'string', default: '20' }, json: { type: 'boolean', default: false },
} });
const N = Number(values.runs);
const WARMUP = Number(values.warmup);
const say = values.json ? () => {} : console.log;

let sandboxLib;
let toolsLib;
try {
  sandboxLib = require(join(HERE, '../apps/tool-executor/dist/sandbox/index.js'));
  toolsLib = require(join(HERE, '../apps/tool-executor/dist/tools/index.js'));
} catch (err) {
  console.error(`cannot load the tool-executor's build (build first: node tools/build-quiet.mjs): ${err.message}`);
  process.exit(1);
}
const { ProcessSandbox, QuickJsSandbox, DEFAULT_SANDBOX_CONFIG } = sandboxLib;
const { runCodeTool, httpRequestTool } = toolsLib;

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const stats = (xs) => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99), mean: xs.reduce((a, b) => a + b, 0) / xs.length, n: xs.length });
const fmt = (v) => v.toFixed(3).padStart(8);
const row = (label, f) => say(`${label.padEnd(34)} p50 ${fmt(f.p50)} ms   p99 ${fmt(f.p99)} ms   mean ${fmt(f.mean)} ms`);
const ctx = (timeoutMs = 30_000) => ({ idempotencyKey: 'bench:1:0', allow: [], timeoutMs, signal: new AbortController().signal });

/** N measured calls per series after a warm-up, round-robin with the order rotating, so noise falls on all alike. */
async function roundRobin(series, n, warmup) {
  const names = Object.keys(series);
  const times = Object.fromEntries(names.map((k) => [k, []]));
  for (let round = 0; round < warmup + n; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      const t0 = performance.now();
      await series[name]();
      const ms = performance.now() - t0;
      if (round >= warmup) times[name].push(ms);
    }
  }
  return Object.fromEntries(names.map((k) => [k, stats(times[k])]));
}

const spawnTrue = () => new Promise((resolve, reject) => {
  const p = spawn('/bin/true', [], { stdio: 'ignore' });
  p.once('error', reject);
  p.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`/bin/true exited ${code}`))));
});

const results = {};
const warnings = [];
const log = { info: () => {}, warn: (_o, m) => warnings.push(m), error: (_o, m) => warnings.push(m) };
const sandbox = new ProcessSandbox({}, log);
const status = await sandbox.probe();
if (!status.ok) {
  console.error(`the sandbox is not usable here: ${status.reason}`);
  process.exit(1);
}
say(`run_code sandbox bench: ${status.version}, limits by ${status.limits}, sandbox uid ${status.uid}, own /proc ${status.proc}, nested userns refused ${status.disableUserns}; ` +
  `${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${loadavg()[0].toFixed(2)}; ${N} measured runs per series after ${WARMUP} warm-up`);

// 1. Start latency of one sandboxed process, against spawning /bin/true.
const expectOk = (r, what) => { if (r.exitCode !== 0) throw new Error(`${what}: exit ${r.exitCode}: ${r.stderr}`); };
const start = await roundRobin({
  'spawn /bin/true (no sandbox)': spawnTrue,
  'sandbox start: sh -c true': async () => expectOk(await sandbox.run({ language: 'sh', code: 'true', timeoutMs: 10_000 }), 'sh'),
  'sandbox start: python -c pass': async () => expectOk(await sandbox.run({ language: 'python', code: 'pass', timeoutMs: 10_000 }), 'python'),
  'sandbox start: node -e 0': async () => expectOk(await sandbox.run({ language: 'node', code: '0', timeoutMs: 10_000 }), 'node'),
}, N, WARMUP);
say('\nsandbox start latency (one call, sequential)');
for (const [k, f] of Object.entries(start)) row(k, f);
results.start = start;

// 2. run_code throughput: a small python program, through the tool, at concurrency 1, 2, 4.
const tool = runCodeTool({ sandbox });
const program = 'import json, math\nprint(json.dumps({"primes": [n for n in range(2, 200) if all(n % d for d in range(2, int(math.isqrt(n)) + 1))][:5]}))';
const throughput = {};
say('\nrun_code throughput (a 2-line python program, through the tool)');
for (const concurrency of [1, 2, 4]) {
  const total = Math.max(concurrency * 10, N);
  let next = 0;
  const latencies = [];
  const worker = async () => {
    while (next < total) {
      next++;
      const t0 = performance.now();
      const r = await tool.execute({ language: 'python', code: program }, ctx());
      latencies.push(performance.now() - t0);
      expectOk(r, 'run_code');
    }
  };
  for (let i = 0; i < WARMUP; i++) await tool.execute({ language: 'python', code: program }, ctx());
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  throughput[concurrency] = { runsPerSecond: total / seconds, ...stats(latencies) };
  say(`concurrency ${concurrency}: ${(total / seconds).toFixed(1).padStart(6)} runs/s   latency p50 ${fmt(throughput[concurrency].p50)} ms   p99 ${fmt(throughput[concurrency].p99)} ms   (${total} runs)`);
}
results.throughput = throughput;

// 3. QuickJS eval latency through the tool (worker round trip included).
const js = new QuickJsSandbox({ memoryMb: DEFAULT_SANDBOX_CONFIG.jsMemoryMb });
const jsTool = runCodeTool({ sandbox, js });
await js.warmUp();
const snippet = [
  'const rows = [];',
  'for (let i = 1; i <= 50; i++) rows.push({ i, sq: i * i, even: i % 2 === 0 });',
  'const total = rows.reduce((a, r) => a + r.sq, 0);',
  'const evens = rows.filter((r) => r.even).map((r) => r.i);',
  '({ total, evens: evens.length, max: Math.max(...rows.map((r) => r.sq)) })',
].join('\n');
const quick = await roundRobin({
  'quickjs: 1 + 2': async () => { const r = await jsTool.execute({ language: 'js', code: '1 + 2' }, ctx()); if (r.result !== 3) throw new Error(JSON.stringify(r)); },
  'quickjs: 5-line snippet': async () => { const r = await jsTool.execute({ language: 'js', code: snippet }, ctx()); if (r.result?.total !== 42925) throw new Error(JSON.stringify(r)); },
}, Math.max(N, 500), WARMUP);
say('\nquickjs eval latency (language "js", through the tool)');
for (const [k, f] of Object.entries(quick)) row(k, f);
results.quickjs = quick;
await js.dispose();

// 4. http_request overhead against a local server.
const body = JSON.stringify({ ok: true, items: [1, 2, 3], text: 'hello from the bench server' });
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const url = `http://127.0.0.1:${port}/items`;
const http = httpRequestTool();
const allow = [`127.0.0.1:${port}`];
const plainNoKeepAlive = () => new Promise((resolve, reject) => {
  const req = httpRequest(url, { agent: false, headers: { accept: 'application/json' } }, (res) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c) => { text += c; });
    res.on('end', () => { JSON.parse(text); resolve(); });
  });
  req.on('error', reject);
  req.end();
});
let httpFigures;
try {
  httpFigures = await roundRobin({
    'fetch (keep-alive)': async () => { const r = await fetch(url, { headers: { accept: 'application/json' } }); await r.json(); },
    'http.request (no keep-alive)': plainNoKeepAlive,
    'http_request tool': async () => {
      const r = await http.execute({ method: 'GET', url, headers: { Accept: 'application/json' } }, { ...ctx(10_000), allow });
      if (r.status !== 200 || r.body?.ok !== true) throw new Error(JSON.stringify(r));
    },
  }, Math.max(N, 500), WARMUP);
} finally {
  await new Promise((r) => server.close(r));
}
say('\nhttp_request vs plain clients (local server, ~80-byte JSON, sequential)');
for (const [k, f] of Object.entries(httpFigures)) row(k, f);
const toolF = httpFigures['http_request tool'];
for (const base of ['fetch (keep-alive)', 'http.request (no keep-alive)']) {
  const b = httpFigures[base];
  say(`http_request added vs ${base}: p50 ${(toolF.p50 - b.p50).toFixed(3)} ms, p99 ${(toolF.p99 - b.p99).toFixed(3)} ms`);
}
results.http = httpFigures;
if (warnings.length) say(`\nsandbox warnings: ${[...new Set(warnings)].join(' | ')}`);
if (values.json) console.log(JSON.stringify({ runs: N, warmup: WARMUP, status, ...results }));
