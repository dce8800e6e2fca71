// Approval round trip: what a human gate costs the platform, the human's own
// time excluded. Printed, never asserted.
//   node tools/build-quiet.mjs && node bench/approval-roundtrip.bench.mjs [--gates 100] [--warmup 10] [--json]
//
// Five services as processes (startKeel), agent `gated`: scripted model, the
// `noop` tool at risk `approve`, so every task stops at one gate. N sequential
// tasks; for each, the driver waits until the task is parked (the
// `approval.requested` event), then approves over HTTP as the console does
// (POST /v1/approvals/{id}/decision with If-Match) and waits for the resumed
// step. Times are taken in the driver (performance.now) when the HTTP response
// arrives and when each live event arrives on `keel.v1.tasks.*.events` (core
// NATS, published right after the step's commit), so they include the
// publish-after-commit hop a real watcher sees.
//
//   decision HTTP       POST sent → 200 (auth, the gate row and its audit row in one transaction, the signed decision published to JetStream)
//   POST → step.started POST sent → the resumed step's `step.started` (reason resume) arrives: decision → JetStream → the orchestrator's
//                       consumer → the step work item → a worker loads the checkpoint, asks the approval service again, runs the call, commits
//   reply → step.started the same, from the HTTP reply instead of the request
//   POST → tool.completed arrives in the same commit as step.started (one batch of events per step), so it is the same figure within noise
//   pause               the task's submit reply → `approval.requested` arrives: step 1 (input screen, model turn, tool specs,
//                       the approval check that opens the gate, the checkpoint that parks the task)
//   pause + resume      pause + (POST → tool.completed): the platform time of a gated step, the human's time excluded
//
// The peer: LangGraph JS interrupt() + resume (Command({resume})) with PostgresSaver measured 14 ms p50 on this
// machine (quoted, not re-run here). Target: decision → resume < 10 ms p50.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import testing from '@keel/testing';

const { values } = parseArgs({ options: {
  gates: { type: 'string', default: '100' }, warmup: { type: 'string', default: '10' }, json: { type: 'boolean', default: false },
} });
const N = Number(values.gates);
const WARMUP = Number(values.warmup);
const say = values.json ? () => {} : console.log;
const PEER_P50_MS = 14;
const TARGET_P50_MS = 10;

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const stats = (xs) => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99), mean: xs.reduce((a, b) => a + b, 0) / xs.length, n: xs.length });

const agentsDir = mkdtempSync(join(tmpdir(), 'keel-bench-approval-'));
writeFileSync(join(agentsDir, 'gated.yaml'), 'name: gated\nmodel: scripted/default\nsystemPrompt: bench\ntools:\n  - name: noop\n    risk: approve\nlimits: {taskTimeoutMs: 600000}\n');
let keel;
let nc;
try {
  keel = await testing.startKeel({ agentsDir, env: { LOG_LEVEL: 'warn', KEEL_ENABLE_BENCH_TOOLS: 'true' } });
  const orchestrator = keel.url('orchestrator');
  const approval = keel.url('approval');
  const headers = { Authorization: `Bearer ${keel.apiKey}`, 'Content-Type': 'application/json' };

  // Every task's live events, stamped on arrival; a waiter per (task, predicate).
  nc = await connect({ servers: keel.nats.url });
  const waiters = new Map(); // taskId -> [{ match, resolve, reject, timer }]
  const seen = new Map(); // taskId -> [{ e, at }]
  nc.subscribe('keel.v1.tasks.*.events', { callback: (err, msg) => {
    if (err) return;
    const at = performance.now();
    const e = msg.json();
    const list = seen.get(e.taskId) ?? [];
    list.push({ e, at });
    seen.set(e.taskId, list);
    for (const w of waiters.get(e.taskId) ?? []) if (!w.done && w.match(e)) { w.done = true; clearTimeout(w.timer); w.resolve({ e, at }); }
  } });
  const waitEvent = (taskId, match, what) => new Promise((resolve, reject) => {
    const hit = (seen.get(taskId) ?? []).find((x) => match(x.e));
    if (hit) return resolve(hit);
    const w = { match, resolve, done: false, timer: setTimeout(() => reject(new Error(`timed out waiting for ${what} of task ${taskId}`)), 20_000) };
    waiters.set(taskId, [...(waiters.get(taskId) ?? []), w]);
  });
  await nc.flush();

  const script = [{ toolCalls: [{ name: 'noop', arguments: { n: 1 } }] }, { content: 'done' }];
  const one = async (i) => {
    const submitted = await fetch(`${orchestrator}/v1/tasks`, { method: 'POST', headers, body: JSON.stringify({ input: `gated task ${i}`, agent: 'gated', metadata: { script } }) });
    const tSubmitted = performance.now();
    if (submitted.status !== 202) throw new Error(`submit: HTTP ${submitted.status} ${await submitted.text()}`);
    const { id } = await submitted.json();
    const parked = await waitEvent(id, (e) => e.type === 'approval.requested', 'approval.requested');
    const gateId = parked.e.data.gateId;
    const gate = await (await fetch(`${approval}/v1/approvals/${gateId}`, { headers })).json();

    const t0 = performance.now();
    const res = await fetch(`${approval}/v1/approvals/${gateId}/decision`, {
      method: 'POST', headers: { ...headers, 'If-Match': `"${gate.argsHash}"` }, body: JSON.stringify({ decision: 'approve', comment: 'bench' }),
    });
    const t1 = performance.now();
    if (res.status !== 200) throw new Error(`decision: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    const started = await waitEvent(id, (e) => e.type === 'step.started' && e.data.reason === 'resume', 'the resumed step.started');
    const tool = await waitEvent(id, (e) => e.type === 'tool.completed', 'tool.completed');
    if (!tool.e.data.ok) throw new Error(`the tool failed: ${JSON.stringify(tool.e.data)}`);
    await waitEvent(id, (e) => e.type === 'task.succeeded', 'task.succeeded');
    seen.delete(id);
    waiters.delete(id);
    return {
      decisionHttp: t1 - t0, postToStep: started.at - t0, replyToStep: started.at - t1, postToTool: tool.at - t0,
      pause: parked.at - tSubmitted, pauseResume: parked.at - tSubmitted + (tool.at - t0),
    };
  };

  say(`approval round trip: ${N} sequential gates after ${WARMUP} warm-up, agent gated (scripted model, noop at risk approve); ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${loadavg()[0].toFixed(2)}`);
  for (let i = 0; i < WARMUP; i++) await one(-1 - i);
  const rows = [];
  for (let i = 0; i < N; i++) rows.push(await one(i));
  const keys = ['decisionHttp', 'postToStep', 'replyToStep', 'postToTool', 'pause', 'pauseResume'];
  const labels = {
    decisionHttp: 'decision HTTP (POST → 200)', postToStep: 'POST → resumed step.started', replyToStep: '200 → resumed step.started',
    postToTool: 'POST → tool.completed', pause: 'submit → parked (step 1)', pauseResume: 'pause + resume (no human)',
  };
  const figures = Object.fromEntries(keys.map((k) => [k, stats(rows.map((r) => r[k]))]));
  for (const k of keys) {
    const f = figures[k];
    say(`${labels[k].padEnd(30)} p50 ${f.p50.toFixed(2).padStart(7)} ms   p99 ${f.p99.toFixed(2).padStart(7)} ms   mean ${f.mean.toFixed(2).padStart(7)} ms`);
  }
  const resume = figures.postToStep.p50;
  say(`decision → resume p50 ${resume.toFixed(2)} ms: target < ${TARGET_P50_MS} ms ${resume < TARGET_P50_MS ? 'met' : 'not met'}; peer (LangGraph interrupt + resume, quoted) ${PEER_P50_MS} ms p50 → Keel/peer ${(resume / PEER_P50_MS).toFixed(2)}×`);
  if (values.json) console.log(JSON.stringify({ gates: N, warmup: WARMUP, figures, targetP50Ms: TARGET_P50_MS, peerP50Ms: PEER_P50_MS }));
} finally {
  await nc?.close().catch(() => {});
  await keel?.stop();
  rmSync(agentsDir, { recursive: true, force: true });
}
