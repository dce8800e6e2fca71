// The peer for Keel's step-overhead bench: LangGraph JS + PostgresSaver in one
// process, running the same K=10 fake agent (9 turns that each propose one
// no-op tool call, then a final answer), measured the same way. Prints medians
// and rates; asserts nothing. @langchain/* are devDependencies of bench/ only.
//   node bench/peer-langgraph.mjs [--tasks 30] [--durability async|sync] [--json]
//
// Durability: LangGraph writes a checkpoint after every super-step. The
// default mode, "async", issues that write in the background while the next
// super-step runs (all writes are awaited before invoke() resolves); "sync"
// awaits each checkpoint before the next super-step starts, which is what
// "every step durable" means on Keel's side. Both are measurable here.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { StateGraph, MessagesAnnotation, START, END } from '@langchain/langgraph';
import { ToolNode } from '@langchain/langgraph/prebuilt';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { z } from 'zod';

export const K = 10;
export const CONCURRENCY = [1, 10, 100];
export const ROUNDS = { 1: 10, 10: 3, 100: 1 }; // same as Keel's bench
export const WARMUP_TASKS = 5;
const PG_SERVER = process.env.KEEL_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

export function buildGraph(checkpointer) {
  const noop = tool(async () => 'ok', { name: 'noop', description: 'Does nothing.', schema: z.object({ echo: z.string().optional() }) });
  // Deterministic fake model, no latency: turns 1..K-1 propose one noop call, turn K answers.
  const model = (state) => {
    const turn = state.messages.filter((m) => m.getType() === 'ai').length + 1;
    return {
      messages: [turn < K
        ? new AIMessage({ content: '', tool_calls: [{ id: `call_${turn}`, name: 'noop', args: { echo: String(turn - 1) }, type: 'tool_call' }] })
        : new AIMessage('done')],
    };
  };
  return new StateGraph(MessagesAnnotation)
    .addNode('model', model)
    .addNode('tools', new ToolNode([noop]))
    .addEdge(START, 'model')
    .addConditionalEdges('model', (s) => (s.messages.at(-1).tool_calls?.length ? 'tools' : END), ['tools', END])
    .addEdge('tools', 'model')
    .compile({ checkpointer });
}

export async function measurePeer({ tasks = 30, durability = 'async', log = () => {} } = {}) {
  const name = `keel_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_SERVER });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(PG_SERVER);
  url.pathname = `/${name}`;
  // fromConnString: the saver's own pg.Pool with pg's defaults (max 10 connections).
  const saver = PostgresSaver.fromConnString(url.toString());
  const db = new pg.Client({ connectionString: url.toString() });
  // DROP DATABASE … WITH (FORCE) at the end may terminate a connection still closing.
  saver.pool.on('error', () => {});
  db.on('error', () => {});
  try {
    await saver.setup();
    await db.connect();
    const graph = buildGraph(saver);
    // durability "async" is LangGraph's default; pass it only when asked for another mode.
    const runOpts = durability === 'async' ? {} : { durability };
    let n = 0;
    const run = async () => {
      const threadId = `t${n++}`;
      const t0 = performance.now();
      const out = await graph.invoke({ messages: [new HumanMessage('bench')] }, { ...runOpts, configurable: { thread_id: threadId } });
      const ms = performance.now() - t0;
      if (out.messages.length !== 2 * K || out.messages.at(-1).content !== 'done') throw new Error(`unexpected transcript of ${out.messages.length} messages`);
      return { threadId, ms };
    };

    for (let i = 0; i < WARMUP_TASKS; i++) await run();

    log(`LangGraph JS + PostgresSaver: K=${K} steps per task (9 noop tool steps + final), fake model with no latency, durability "${durability}"${durability === 'async' ? ' (default)' : ''}`);
    const seqRuns = [];
    for (let i = 0; i < tasks; i++) seqRuns.push(await run());
    const perStep = seqRuns.map((r) => r.ms / K).sort((a, b) => a - b);
    // Checkpoint timestamps (ms resolution): the checkpoint before model turn
    // n+1 minus the one before turn n (super-steps 0, 2, …, 18), and the input
    // checkpoint (-1) → super-step 0, as Keel's submitted → step 1 started.
    const { rows } = await db.query(
      `SELECT thread_id, (metadata->>'step')::int AS step, extract(epoch from (checkpoint->>'ts')::timestamptz) * 1000 AS ms
         FROM checkpoints WHERE thread_id = ANY($1) AND checkpoint_ns = '' ORDER BY thread_id, (metadata->>'step')::int`,
      [seqRuns.map((r) => r.threadId)]);
    const byThread = new Map();
    for (const r of rows) if (r.step === -1 || (r.step % 2 === 0 && r.step < 2 * K - 1)) byThread.set(r.thread_id, [...(byThread.get(r.thread_id) ?? []), Number(r.ms)]);
    const gaps = [];
    for (const ts of byThread.values()) for (let i = 1; i < ts.length; i++) gaps.push(ts[i] - ts[i - 1]);
    gaps.sort((a, b) => a - b);
    const seq = {
      checkpointGapP50: pct(gaps, 0.5), checkpointGapP99: pct(gaps, 0.99), gaps: gaps.length,
      taskPerStepP50: pct(perStep, 0.5), taskPerStepP99: pct(perStep, 0.99), tasks: perStep.length,
    };
    log(`sequential: ${tasks} tasks, task time / K p50 ${seq.taskPerStepP50.toFixed(2)} ms, p99 ${seq.taskPerStepP99.toFixed(2)} ms; checkpoint gaps (${gaps.length}, 1 ms resolution) p50 ${seq.checkpointGapP50.toFixed(2)} ms, p99 ${seq.checkpointGapP99.toFixed(2)} ms`);

    const stepsPerSec = {};
    for (const c of CONCURRENCY) {
      const started = performance.now();
      let steps = 0;
      for (let r = 0; r < ROUNDS[c]; r++) {
        const done = await Promise.all(Array.from({ length: c }, run));
        steps += done.length * K;
      }
      const secs = (performance.now() - started) / 1000;
      stepsPerSec[c] = steps / secs;
      log(`concurrency ${String(c).padStart(3)}: ${steps} steps in ${secs.toFixed(2)} s = ${stepsPerSec[c].toFixed(0)} steps/s`);
    }

    const peakRssMiB = process.resourceUsage().maxRSS / 1024; // VmHWM of this process, KiB
    const { rows: [size] } = await db.query(`SELECT (SELECT count(DISTINCT thread_id) FROM checkpoints)::int AS tasks,
      (pg_total_relation_size('checkpoints') + pg_total_relation_size('checkpoint_blobs') + pg_total_relation_size('checkpoint_writes')
       + pg_total_relation_size('checkpoint_migrations'))::bigint AS bytes,
      (SELECT count(*) FROM checkpoints)::int AS checkpoints`);
    const pgBytesPerTask = Number(size.bytes) / size.tasks;
    log(`peak RSS of the process: ${peakRssMiB.toFixed(0)} MiB; Postgres: ${(pgBytesPerTask / 1024).toFixed(1)} KiB per ${K}-step task (tables + indexes, ${size.tasks} tasks, ${size.checkpoints} checkpoints)`);
    return {
      system: 'langgraph', durability, K, seq, stepsPerSec, peakRssMiB, pgBytesPerTask, pgTasks: size.tasks,
      checkpointsPerTask: size.checkpoints / size.tasks, failed: 0,
    };
  } finally {
    await db.end().catch(() => {});
    await saver.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: {
    tasks: { type: 'string', default: '30' }, durability: { type: 'string', default: 'async' }, json: { type: 'boolean', default: false },
  } });
  if (!['async', 'sync', 'exit'].includes(values.durability)) throw new Error('--durability is async, sync or exit');
  const figures = await measurePeer({ tasks: Number(values.tasks), durability: values.durability, log: values.json ? () => {} : console.log });
  if (values.json) console.log(JSON.stringify(figures));
}
