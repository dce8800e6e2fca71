// Per-step platform overhead of Keel with all five services as processes.
// Scripted model with no latency; each task is K=10 steps (9 calculator tool
// steps + a final answer). Prints medians and rates; asserts nothing.
//   npm run build && node bench/step-overhead.bench.mjs [--tasks 30] [--trace]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import testing from '@keel/testing';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '30' }, trace: { type: 'boolean', default: false } } });
const K = 10;
const SEQUENTIAL_TASKS = Number(values.tasks);
const script = [
  ...Array.from({ length: K - 1 }, (_, i) => ({ toolCalls: [{ name: 'calculator', arguments: { expression: `${i}+1` } }], confidence: 0.99 })),
  { content: 'done' },
];

const agentsDir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
writeFileSync(join(agentsDir, 'bench.yaml'), 'name: bench\nmodel: scripted/default\nsystemPrompt: bench\ntools: [calculator]\nlimits: {maxSteps: 50}\n');
const otlp = values.trace ? await testing.startOtlpReceiver() : undefined;
const keel = await testing.startKeel({ agentsDir, otlpUrl: otlp?.url, env: { LOG_LEVEL: 'warn', KEEL_STEP_CONCURRENCY: '256' } });
const base = keel.url('orchestrator');
const headers = { Authorization: `Bearer ${keel.apiKey}`, 'Content-Type': 'application/json' };
const db = new pg.Client({ connectionString: keel.db.url });
await db.connect();

const submit = async () => {
  const r = await fetch(`${base}/v1/tasks`, { method: 'POST', headers, body: JSON.stringify({ input: 'bench', agent: 'bench', metadata: { script } }) });
  return (await r.json()).id;
};
const waitDone = async (ids) => {
  for (;;) {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM orchestrator.tasks WHERE id = ANY($1) AND status IN ('succeeded','failed','cancelled','timed_out')`, [ids]);
    if (rows[0].n === ids.length) return;
    await new Promise((r) => setTimeout(r, 5));
  }
};
const stepGaps = async (ids) => {
  // Consecutive checkpoint commit times of each task = one step's wall time.
  const { rows } = await db.query(
    `SELECT task_id, extract(epoch from at) * 1000 AS ms FROM orchestrator.task_events
      WHERE task_id = ANY($1) AND type IN ('task.submitted', 'step.started') ORDER BY task_id, seq`, [ids]);
  const byTask = new Map();
  for (const r of rows) byTask.set(r.task_id, [...(byTask.get(r.task_id) ?? []), Number(r.ms)]);
  const gaps = [];
  for (const ts of byTask.values()) for (let i = 1; i < ts.length; i++) gaps.push(ts[i] - ts[i - 1]);
  return gaps.sort((a, b) => a - b);
};
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const rss = () => {
  const pids = execFileSync('pgrep', ['-f', 'apps/.*/dist/main.js']).toString().trim().split('\n');
  return pids.reduce((s, pid) => s + Number(execFileSync('ps', ['-o', 'rss=', '-p', pid]).toString().trim() || 0), 0) / 1024;
};

// Warm up (worker threads, JIT, connection pools).
for (let i = 0; i < 5; i++) { const id = await submit(); await waitDone([id]); }

console.log(`Keel step overhead: K=${K} steps per task (9 calculator steps + final), scripted model with no latency, tracing ${values.trace ? 'on (OTLP to a local receiver)' : 'off'}`);
const seqIds = [];
for (let i = 0; i < SEQUENTIAL_TASKS; i++) { const id = await submit(); seqIds.push(id); await waitDone([id]); }
const gaps = await stepGaps(seqIds);
console.log(`sequential: ${gaps.length} steps, per-step p50 ${pct(gaps, 0.5).toFixed(2)} ms, p99 ${pct(gaps, 0.99).toFixed(2)} ms`);

let peakRss = rss();
for (const c of [1, 10, 100]) {
  const rounds = c === 1 ? 10 : c === 10 ? 3 : 1;
  const started = performance.now();
  let steps = 0;
  for (let r = 0; r < rounds; r++) {
    const ids = await Promise.all(Array.from({ length: c }, submit));
    await waitDone(ids);
    steps += ids.length * K;
    peakRss = Math.max(peakRss, rss());
  }
  const secs = (performance.now() - started) / 1000;
  console.log(`concurrency ${String(c).padStart(3)}: ${steps} steps in ${secs.toFixed(2)} s = ${(steps / secs).toFixed(0)} steps/s`);
}
const { rows: [size] } = await db.query(`SELECT (SELECT count(*) FROM orchestrator.tasks)::int AS tasks,
  (pg_total_relation_size('orchestrator.tasks') + pg_total_relation_size('orchestrator.task_events') + pg_total_relation_size('orchestrator.messages')
   + pg_total_relation_size('orchestrator.task_messages') + pg_total_relation_size('tool_executor.ledger'))::bigint AS bytes`);
console.log(`peak RSS of the five services: ${peakRss.toFixed(0)} MiB; Postgres: ${(Number(size.bytes) / size.tasks / 1024).toFixed(1)} KiB per ${K}-step task (tables + indexes, ${size.tasks} tasks)`);
await db.end();
await keel.stop();
await otlp?.close();
