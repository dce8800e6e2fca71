// Per-step platform overhead of Keel with all five services as processes.
// Scripted model with no latency; each task is K=10 steps (9 tool steps + a
// final answer). The tool is the built-in `noop` when the tool-executor
// exports it (enabled with KEEL_ENABLE_BENCH_TOOLS=true), else `calculator`;
// each call has distinct arguments (Keel's loop detector stops repeats).
// Prints medians and rates; asserts nothing.
//   node tools/build-quiet.mjs && node bench/step-overhead.bench.mjs [--tasks 30] [--trace] [--tool noop|calculator] [--json]
// Imported (bench/run.mjs): `measureKeel({ tasks, trace })` returns the figures.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import testing from '@keel/testing';

export const K = 10;
export const CONCURRENCY = [1, 10, 100];
/** Rounds per concurrency level: c=1 → 10 tasks, c=10 → 30, c=100 → 100 (the peer uses the same). */
export const ROUNDS = { 1: 10, 10: 3, 100: 1 };
export const WARMUP_TASKS = 5;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TERMINAL = new Set(['task.succeeded', 'task.failed', 'task.cancelled', 'task.timed_out']);

export const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/**
 * The built-in no-op bench tool when the tool-executor exports it (source) and
 * the build has it (dist); `calculator` until then.
 */
export function benchTool() {
  const exported = /\bnoop/i.test(readFileSync(join(ROOT, 'apps/tool-executor/src/tools/index.ts'), 'utf8'));
  const distIndex = join(ROOT, 'apps/tool-executor/dist/tools/index.js');
  const built = existsSync(distIndex) && /\bnoop/i.test(readFileSync(distIndex, 'utf8'));
  if (exported && !built) console.warn('bench: the tool-executor exports `noop` but its build does not; run `node tools/build-quiet.mjs`. Using calculator.');
  return exported && built ? 'noop' : 'calculator';
}

// Peak resident set (VmHWM) of this process's children whose command line matches.
const childPeaksMiB = (match) => {
  let pids = [];
  try {
    pids = execFileSync('pgrep', ['-P', String(process.pid)]).toString().trim().split('\n').filter(Boolean);
  } catch { /* no children */ }
  let kib = 0;
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (!match.test(cmd)) continue;
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kib += Number(hwm?.[1] ?? 0);
    } catch { /* exited */ }
  }
  return kib / 1024;
};

export async function measureKeel({ tasks = 30, trace = false, tool = benchTool(), log = () => {} } = {}) {
  const script = [
    ...Array.from({ length: K - 1 }, (_, i) => ({
      toolCalls: [{ name: tool, arguments: tool === 'noop' ? { n: i } : { expression: `${i}+1` } }],
      confidence: 0.99,
    })),
    { content: 'done' },
  ];
  const agentsDir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
  writeFileSync(join(agentsDir, 'bench.yaml'), `name: bench\nmodel: scripted/default\nsystemPrompt: bench\ntools: [${tool}]\nlimits: {maxSteps: 50}\n`);
  const otlp = trace ? await testing.startOtlpReceiver() : undefined;
  const keel = await testing.startKeel({
    agentsDir,
    otlpUrl: otlp?.url,
    env: { LOG_LEVEL: 'warn', KEEL_STEP_CONCURRENCY: '256', ...(tool === 'noop' ? { KEEL_ENABLE_BENCH_TOOLS: 'true' } : {}) },
  });
  const db = new pg.Pool({ connectionString: keel.db.url, max: 3 });
  const nc = await connect({ servers: keel.nats.url });
  let stopPoller = () => {};
  try {
    const base = keel.url('orchestrator');
    const headers = { Authorization: `Bearer ${keel.apiKey}`, 'Content-Type': 'application/json' };

    // Completion is observed on the live event subject (no polling load on
    // Postgres); a slow poll of the table covers a missed core-NATS message.
    const finished = new Map();
    const waiters = new Map();
    nc.subscribe('keel.v1.tasks.*.events', {
      callback: (err, msg) => {
        if (err) return;
        const e = msg.json();
        if (!TERMINAL.has(e.type)) return;
        finished.set(e.taskId, e.type);
        waiters.get(e.taskId)?.();
      },
    });
    await nc.flush();
    const poller = setInterval(() => {
      if (waiters.size === 0) return;
      db.query(`SELECT id, status FROM orchestrator.tasks WHERE id = ANY($1) AND status IN ('succeeded','failed','cancelled','timed_out')`, [[...waiters.keys()]])
        .then(({ rows }) => { for (const r of rows) { finished.set(r.id, r.status); waiters.get(r.id)?.(); } }, () => {});
    }, 500);
    stopPoller = () => clearInterval(poller);
    const waitOne = (id) => new Promise((res) => {
      if (finished.has(id)) return res();
      waiters.set(id, () => { waiters.delete(id); res(); });
    });
    const waitDone = (ids) => Promise.all(ids.map(waitOne));
    const submit = async () => {
      const r = await fetch(`${base}/v1/tasks`, { method: 'POST', headers, body: JSON.stringify({ input: 'bench', agent: 'bench', metadata: { script } }) });
      if (!r.ok) throw new Error(`submit failed: ${r.status} ${await r.text()}`);
      return (await r.json()).id;
    };

    // Warm up (worker threads, JIT, connection pools).
    const warmIds = [];
    for (let i = 0; i < WARMUP_TASKS; i++) {
      const id = await submit();
      warmIds.push(id);
      let timer;
      const stuck = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('stuck')), 30_000); });
      try {
        await Promise.race([waitDone([id]), stuck]);
      } catch {
        const { rows: evs } = await db.query(`SELECT type, data FROM orchestrator.task_events WHERE task_id = $1 ORDER BY seq DESC LIMIT 3`, [id]);
        throw new Error(`warm-up task with the ${tool} tool did not finish in 30 s; last events: ${JSON.stringify(evs)}`);
      } finally {
        clearTimeout(timer);
      }
    }
    const { rows: bad } = await db.query(`SELECT id, status, error FROM orchestrator.tasks WHERE id = ANY($1) AND status <> 'succeeded'`, [warmIds]);
    if (bad.length > 0) throw new Error(`warm-up tasks with the ${tool} tool did not succeed: ${JSON.stringify(bad[0])}`);

    log(`Keel step overhead: K=${K} steps per task (9 ${tool} steps + final), scripted model with no latency, tracing ${trace ? 'on (OTLP to a local receiver)' : 'off'}`);
    const seqIds = [];
    for (let i = 0; i < tasks; i++) { const id = await submit(); seqIds.push(id); await waitDone([id]); }
    // Consecutive checkpoint commit times of each task = one step's wall time
    // (task.submitted → step 1 started, step n started → step n+1 started).
    const { rows } = await db.query(
      `SELECT task_id, type, extract(epoch from at) * 1000 AS ms FROM orchestrator.task_events
        WHERE task_id = ANY($1) ORDER BY task_id, seq`, [seqIds]);
    const byTask = new Map();
    for (const r of rows) byTask.set(r.task_id, [...(byTask.get(r.task_id) ?? []), r]);
    const gaps = [];
    const perStep = [];
    const statuses = {};
    for (const evs of byTask.values()) {
      const ts = evs.filter((e) => e.type === 'task.submitted' || e.type === 'step.started').map((e) => Number(e.ms));
      for (let i = 1; i < ts.length; i++) gaps.push(ts[i] - ts[i - 1]);
      // Whole task (submitted → terminal event, Keel's own clock) / K.
      perStep.push((Number(evs.at(-1).ms) - Number(evs[0].ms)) / K);
      statuses[evs.at(-1).type] = (statuses[evs.at(-1).type] ?? 0) + 1;
    }
    gaps.sort((a, b) => a - b);
    perStep.sort((a, b) => a - b);
    const seq = {
      checkpointGapP50: pct(gaps, 0.5), checkpointGapP99: pct(gaps, 0.99), gaps: gaps.length,
      taskPerStepP50: pct(perStep, 0.5), taskPerStepP99: pct(perStep, 0.99), tasks: perStep.length,
    };
    log(`sequential: ${gaps.length} steps, per-step p50 ${seq.checkpointGapP50.toFixed(2)} ms, p99 ${seq.checkpointGapP99.toFixed(2)} ms (checkpoint gaps); task time / K p50 ${seq.taskPerStepP50.toFixed(2)} ms, p99 ${seq.taskPerStepP99.toFixed(2)} ms; final events ${JSON.stringify(statuses)}`);

    const stepsPerSec = {};
    for (const c of CONCURRENCY) {
      const started = performance.now();
      let steps = 0;
      for (let r = 0; r < ROUNDS[c]; r++) {
        const ids = await Promise.all(Array.from({ length: c }, submit));
        await waitDone(ids);
        steps += ids.length * K;
      }
      const secs = (performance.now() - started) / 1000;
      stepsPerSec[c] = steps / secs;
      log(`concurrency ${String(c).padStart(3)}: ${steps} steps in ${secs.toFixed(2)} s = ${stepsPerSec[c].toFixed(0)} steps/s`);
    }
    const failed = [...finished.values()].filter((s) => s !== 'task.succeeded' && s !== 'succeeded').length;

    const peakRssMiB = childPeaksMiB(/apps\/[^/]+\/dist\/main\.js/);
    const natsRssMiB = childPeaksMiB(/nats-server/);
    const { rows: [size] } = await db.query(`SELECT (SELECT count(*) FROM orchestrator.tasks)::int AS tasks,
      (pg_total_relation_size('orchestrator.tasks') + pg_total_relation_size('orchestrator.task_events') + pg_total_relation_size('orchestrator.messages')
       + pg_total_relation_size('orchestrator.task_messages') + pg_total_relation_size('tool_executor.ledger'))::bigint AS bytes`);
    const pgBytesPerTask = Number(size.bytes) / size.tasks;
    log(`peak RSS of the five services: ${peakRssMiB.toFixed(0)} MiB (sum of per-process VmHWM; nats-server ${natsRssMiB.toFixed(0)} MiB more); Postgres: ${(pgBytesPerTask / 1024).toFixed(1)} KiB per ${K}-step task (tables + indexes, ${size.tasks} tasks); failed tasks: ${failed}`);
    return {
      system: 'keel', tool, K, durability: 'every step committed before the next is published', trace,
      seq, stepsPerSec, peakRssMiB, natsRssMiB, pgBytesPerTask, pgTasks: size.tasks, failed,
    };
  } finally {
    stopPoller();
    await nc.close().catch(() => {});
    await db.end().catch(() => {});
    await keel.stop();
    await otlp?.close();
    rmSync(agentsDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { tasks: { type: 'string', default: '30' }, trace: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, tool: { type: 'string' } } });
  const figures = await measureKeel({ tasks: Number(values.tasks), trace: values.trace, ...(values.tool ? { tool: values.tool } : {}), log: values.json ? () => {} : console.log });
  if (values.json) console.log(JSON.stringify(figures));
}
