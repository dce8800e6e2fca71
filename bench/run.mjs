// One command, both systems, one table: Keel's step-overhead bench (five
// services as processes) then the peer, LangGraph JS + PostgresSaver, on the
// same K=10 fake agent, in the same run. Every figure comes from this one run
// (percentiles over its steps/tasks); nothing is asserted.
//   npm run bench                       (builds Keel first)
//   node bench/run.mjs [--tasks 30] [--skip-sync] [--json]
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureKeel } from './step-overhead.bench.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: {
  tasks: { type: 'string', default: '30' }, 'skip-sync': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
} });
const tasks = Number(values.tasks);
const say = values.json ? () => {} : console.log;

// The peer runs in its own process so its peak RSS is its own (one process is
// its whole platform); Keel's RSS is its five service processes.
const peer = (durability) => {
  const r = spawnSync(process.execPath, [join(HERE, 'peer-langgraph.mjs'), '--json', '--tasks', String(tasks), '--durability', durability], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`peer (${durability}) failed with exit ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
};

const started = new Date();
say(`bench run ${started.toISOString()} on ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
say('\n── Keel (five services, NATS JetStream, Postgres) ──');
const keel = await measureKeel({ tasks, log: say });
say('\n── LangGraph JS + PostgresSaver, durability "async" (its default) ──');
const lgAsync = peer('async');
logPeer(lgAsync);
let lgSync;
if (!values['skip-sync']) {
  say('\n── LangGraph JS + PostgresSaver, durability "sync" (each checkpoint awaited before the next super-step) ──');
  lgSync = peer('sync');
  logPeer(lgSync);
}

function logPeer(f) {
  say(`sequential: task time / K p50 ${f.seq.taskPerStepP50.toFixed(2)} ms, p99 ${f.seq.taskPerStepP99.toFixed(2)} ms; checkpoint gaps p50 ${f.seq.checkpointGapP50.toFixed(2)} ms, p99 ${f.seq.checkpointGapP99.toFixed(2)} ms`);
  say(`steps/s: ${Object.entries(f.stepsPerSec).map(([c, v]) => `c=${c} ${v.toFixed(0)}`).join(', ')}; peak RSS ${f.peakRssMiB.toFixed(0)} MiB; Postgres ${(f.pgBytesPerTask / 1024).toFixed(1)} KiB/task (${f.checkpointsPerTask} checkpoints/task)`);
}

const rows = [
  ['per-step p50, task time / K (ms)', (f) => f.seq.taskPerStepP50, 'lower', (v) => (v <= 3 ? 'target ≤ 3: met' : 'target ≤ 3: not met')],
  ['per-step p99, task time / K (ms)', (f) => f.seq.taskPerStepP99, 'lower'],
  ['per-step p50, checkpoint gaps (ms)', (f) => f.seq.checkpointGapP50, 'lower', (v) => (v <= 3 ? 'target ≤ 3: met' : 'target ≤ 3: not met')],
  ['per-step p99, checkpoint gaps (ms)', (f) => f.seq.checkpointGapP99, 'lower'],
  ['steps/s, concurrency 1', (f) => f.stepsPerSec[1], 'higher'],
  ['steps/s, concurrency 10', (f) => f.stepsPerSec[10], 'higher'],
  ['steps/s, concurrency 100', (f) => f.stepsPerSec[100], 'higher', (v) => (v >= 1000 ? 'target ≥ 1000: met' : 'target ≥ 1000: not met')],
  ['peak RSS (MiB)', (f) => f.peakRssMiB, 'lower'],
  ['Postgres KiB per task', (f) => f.pgBytesPerTask / 1024, 'lower'],
];
const peers = [['LangGraph async', lgAsync], ...(lgSync ? [['LangGraph sync', lgSync]] : [])];
const fmt = (v, label) => (v >= 100 || label.startsWith('steps/s') ? v.toFixed(0) : v.toFixed(2));
const header = ['', 'Keel', ...peers.flatMap(([n]) => [n, `Keel / ${n.replace('LangGraph ', '')}`]), 'better', 'Keel vs target'];
const table = rows.map(([label, get, better, target]) => {
  const k = get(keel);
  return [label, fmt(k, label), ...peers.flatMap(([, p]) => [fmt(get(p), label), `${(k / get(p)).toFixed(2)}×`]), better, target?.(k) ?? ''];
});
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
say(`\nKeel vs LangGraph JS + PostgresSaver, K=${keel.K} steps per task, ${tasks} sequential tasks, ${started.toISOString().slice(0, 10)}`);
say(line(header));
say(`|${widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|')}|`);
for (const r of table) say(line(r));
say(`Keel: ${keel.tool} tool, RSS = five services (sum of per-process peaks; nats-server adds ${keel.natsRssMiB.toFixed(0)} MiB), ${keel.failed} failed tasks.`);
say('LangGraph: one process (graph + saver + this bench\'s driver), PostgresSaver.fromConnString (pg pool of 10), noop tool via ToolNode.');
say('Ratios are Keel / peer; "better" says which direction is better for Keel. Printed, never asserted.');
if (values.json) console.log(JSON.stringify({ at: started.toISOString(), tasks, keel, langgraphAsync: lgAsync, langgraphSync: lgSync }));

