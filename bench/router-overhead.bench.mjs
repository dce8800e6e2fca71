// Router overhead per model call: the round trip of `keel.v1.router.complete`
// through the router service (a real process, over NATS) against calling the
// same fake OpenAI server directly, the way the OpenAI provider calls it.
// The fake answers at once (no latency), so the difference is what the router
// adds: the NATS hop, validation, anomaly and budget checks, routing, retries
// bookkeeping, token counting, the usage row, metrics. Printed, never asserted.
//   node tools/build-quiet.mjs && node bench/router-overhead.bench.mjs [--calls 500] [--warmup 50] [--json]
//
// Series, N sequential calls each after a warm-up, measured round-robin (one
// call of every series per round, the order rotating each round) so machine
// noise falls on all of them alike:
//   direct        Node fetch POST {baseUrl}/chat/completions, stream + include_usage, SSE read to [DONE]
//   provider      the router's own OpenAiCompatibleProvider (built dist), in this process: parsing, no NATS
//   router        keel.v1.router.complete, agent `bench` (no cache), a new task id per call
//   miss (warm)   agent `bench-cached` (cache: true), one user (one cache scope, loaded), a distinct question per call
//   miss (cold)   agent `bench-cached`, no user, a new task id per call: each call is a new scope (loaded from Postgres)
//   hit           agent `bench-cached`, one user, the same question every call: exact hit (+ the row re-check and usage row)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import testing from '@keel/testing';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { values } = parseArgs({ options: {
  calls: { type: 'string', default: '500' }, warmup: { type: 'string', default: '50' }, json: { type: 'boolean', default: false },
} });
const N = Number(values.calls);
const WARMUP = Number(values.warmup);
const say = values.json ? () => {} : console.log;
const TARGET_P50_ADDED_MS = 1;

let OpenAiCompatibleProvider;
try {
  ({ OpenAiCompatibleProvider } = require(join(HERE, '../apps/router/dist/providers/openai.provider.js')));
} catch (err) {
  console.error(`cannot load the router's build (build first: node tools/build-quiet.mjs): ${err.message}`);
  process.exit(1);
}

const MODEL = 'openai/gpt-4o-mini';
const SYSTEM = 'You are a helpful assistant. Answer briefly.';
const ANSWER = { kind: 'ok', content: 'The answer is 4.', usage: { inputTokens: 24, outputTokens: 6 } };
const messages = (question) => [{ role: 'system', content: SYSTEM }, { role: 'user', content: question }];
// Distinct questions that cannot hit one another, exactly or semantically (the numbers differ).
const question = (i) => `What is ${i} plus ${i + 7}? Reply with the number only.`;

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const stats = (xs) => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99), mean: xs.reduce((a, b) => a + b, 0) / xs.length, n: xs.length });

const fake = await new testing.FakeOpenAiServer().start();
const agentsDir = mkdtempSync(join(tmpdir(), 'keel-bench-router-'));
writeFileSync(join(agentsDir, 'bench.yaml'), `name: bench\nmodel: ${MODEL}\nsystemPrompt: bench\n`);
writeFileSync(join(agentsDir, 'bench-cached.yaml'), `name: bench-cached\nmodel: ${MODEL}\nsystemPrompt: bench\ncache: true\n`);
let keel;
let nc;
try {
  keel = await testing.startKeel({ agentsDir, env: { LOG_LEVEL: 'warn', OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: 'x' } });
  nc = await connect({ servers: keel.nats.url });

  // (a) direct: what OpenAiCompatibleProvider sends (toOpenAiRequest, postJson headers), the SSE read to the end and each chunk parsed.
  const url = `${fake.baseUrl}/chat/completions`;
  const decoder = new TextDecoder();
  const direct = async (i) => {
    fake.enqueue(ANSWER);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: 'Bearer x' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: messages(question(i)), stream: true, stream_options: { include_usage: true } }),
    });
    if (!res.ok) throw new Error(`direct: HTTP ${res.status} ${await res.text()}`);
    let text = '';
    for await (const chunk of res.body) text += decoder.decode(chunk, { stream: true });
    let content = '';
    let done = false;
    for (const event of text.split('\n\n')) {
      const data = event.startsWith('data: ') ? event.slice(6) : '';
      if (data === '') continue;
      if (data === '[DONE]') { done = true; break; }
      content += JSON.parse(data).choices[0]?.delta?.content ?? '';
    }
    if (!done || content !== ANSWER.content) throw new Error(`direct: unexpected stream ${JSON.stringify(text.slice(0, 300))}`);
  };

  // Reference: the provider class the router uses, in this process.
  const provider = new OpenAiCompatibleProvider({ id: 'openai', baseUrl: fake.baseUrl, apiKey: 'x' });
  const inProcess = async (i) => {
    fake.enqueue(ANSWER);
    const r = await provider.call({ model: 'gpt-4o-mini', messages: messages(question(i)), tools: [], signal: AbortSignal.timeout(10_000), attempt: 1 });
    if (r.content !== ANSWER.content) throw new Error(`provider: unexpected answer ${JSON.stringify(r)}`);
  };

  // (b) through the router: the orchestrator's request, request/reply over NATS.
  const enc = new TextEncoder();
  const complete = async ({ agent, taskId, userId, q, expectCache }) => {
    const body = {
      taskId, tenant: 'default', agent, step: 1, model: MODEL, messages: messages(q), tools: [], scriptCursor: 0,
      ...(userId ? { userId } : {}), deadline: Date.now() + 10_000,
    };
    const msg = await nc.request('keel.v1.router.complete', enc.encode(JSON.stringify(body)), { timeout: 10_000 });
    const env = msg.json();
    if (!env.ok) throw new Error(`router: ${JSON.stringify(env.error)}`);
    const { result } = env;
    if (result.content !== ANSWER.content) throw new Error(`router: unexpected answer ${JSON.stringify(result)}`);
    if (expectCache !== undefined && (result.cache?.kind ?? 'miss') !== expectCache) throw new Error(`router: expected ${expectCache}, got ${JSON.stringify(result.cache ?? 'miss')}`);
    return result;
  };
  let seq = 0; // distinct questions for the miss series
  const HIT_USER = `hit-${randomUUID()}`;
  const MISS_USER = `miss-${randomUUID()}`;
  const HIT_Q = 'What is the capital of France? One word.';
  const series = {
    direct: (i) => direct(i),
    provider: (i) => inProcess(i),
    router: (i) => { fake.enqueue(ANSWER); return complete({ agent: 'bench', taskId: randomUUID(), q: question(i) }); },
    'cache miss (warm scope)': () => { fake.enqueue(ANSWER); return complete({ agent: 'bench-cached', taskId: randomUUID(), userId: MISS_USER, q: question(1_000_000 + seq++), expectCache: 'miss' }); },
    'cache miss (cold scope)': () => { fake.enqueue(ANSWER); return complete({ agent: 'bench-cached', taskId: randomUUID(), q: question(2_000_000 + seq++), expectCache: 'miss' }); },
    'cache hit': () => complete({ agent: 'bench-cached', taskId: randomUUID(), userId: HIT_USER, q: HIT_Q, expectCache: 'exact' }),
  };

  // Prime the hit series: one miss stores the answer (written after the reply), then wait until it is served.
  fake.enqueue(ANSWER);
  await complete({ agent: 'bench-cached', taskId: randomUUID(), userId: HIT_USER, q: HIT_Q, expectCache: 'miss' });
  const db = new pg.Client({ connectionString: keel.db.url });
  await db.connect();
  try {
    await testing.waitFor('the cached answer', async () => (await db.query(`SELECT 1 FROM router.response_cache WHERE agent = 'bench-cached'`)).rowCount > 0, 10_000, 20);
  } finally {
    await db.end();
  }

  const names = Object.keys(series);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const fakeCalls0 = fake.requests.length;
  say(`router overhead: ${N} sequential calls per series after ${WARMUP} warm-up, round-robin; fake OpenAI server with no latency (${ANSWER.content.length}-char answer in 3 deltas + usage chunk); ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${loadavg()[0].toFixed(2)}`);
  for (let round = 0; round < WARMUP + N; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      const t0 = performance.now();
      await series[name](round);
      const ms = performance.now() - t0;
      if (round >= WARMUP) times[name].push(ms);
    }
  }
  const fakeCalls = fake.requests.length - fakeCalls0;
  const expectedFakeCalls = (WARMUP + N) * (names.length - 1); // every series but the hits reaches the model
  if (fakeCalls !== expectedFakeCalls || fake.pending !== 0) throw new Error(`the fake saw ${fakeCalls} calls (expected ${expectedFakeCalls}), ${fake.pending} behaviours left`);

  const figures = Object.fromEntries(names.map((n) => [n, stats(times[n])]));
  const base = figures.direct;
  const row = (label, f, added) => say(`${label.padEnd(26)} p50 ${f.p50.toFixed(3).padStart(7)} ms   p99 ${f.p99.toFixed(3).padStart(7)} ms   mean ${f.mean.toFixed(3).padStart(7)} ms${added ? `   added vs direct: p50 ${(f.p50 - base.p50).toFixed(3).padStart(7)} ms, p99 ${(f.p99 - base.p99).toFixed(3).padStart(7)} ms` : ''}`);
  for (const n of names) row(n, figures[n], n !== 'direct');
  const added = { p50: figures.router.p50 - base.p50, p99: figures.router.p99 - base.p99 };
  say(`router added latency (router − direct): p50 ${added.p50.toFixed(3)} ms, p99 ${added.p99.toFixed(3)} ms; target ≤ ${TARGET_P50_ADDED_MS} ms p50 added: ${added.p50 <= TARGET_P50_ADDED_MS ? 'met' : 'not met'}`);
  const cacheCost = (n) => ({ p50: figures[n].p50 - figures.router.p50, p99: figures[n].p99 - figures.router.p99 });
  for (const n of ['cache miss (warm scope)', 'cache miss (cold scope)', 'cache hit']) {
    const c = cacheCost(n);
    say(`${n} vs router without cache: p50 ${c.p50 >= 0 ? '+' : ''}${c.p50.toFixed(3)} ms, p99 ${c.p99 >= 0 ? '+' : ''}${c.p99.toFixed(3)} ms`);
  }
  say(`the fake served ${fakeCalls} measured + warm-up calls; the hit series never reached it`);
  if (values.json) console.log(JSON.stringify({ calls: N, warmup: WARMUP, figures, added, targetP50AddedMs: TARGET_P50_ADDED_MS }));
} finally {
  await nc?.close().catch(() => {});
  await keel?.stop();
  await fake.close();
  rmSync(agentsDir, { recursive: true, force: true });
}
