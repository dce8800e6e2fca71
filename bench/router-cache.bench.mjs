// Router response cache: lookup latency with N entries in ONE scope (one
// tenant, agent, tool set and user: the worst case, since a lookup only ever
// searches its own scope). Memory-only index, no Postgres: this measures the
// lookup path the router runs per model call (keys + index, and for semantic
// lookups the local embedding and the linear scan). Printed, never asserted.
//   node tools/build-quiet.mjs && node bench/router-cache.bench.mjs [--entries 100000] [--lookups 2000] [--json]
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const dist = join(HERE, '../apps/router/dist/cache');
let mod;
try {
  mod = { ...require(join(dist, 'response-cache.js')), ...require(join(HERE, '../libs/text/dist/index.js')) };
} catch (err) {
  console.error(`cannot load ${dist} (build first: node tools/build-quiet.mjs): ${err.message}`);
  process.exit(1);
}
const { ResponseCache, SemanticGroup, localEmbed, LOCAL_EMBEDDING_DIM } = mod;

const { values } = parseArgs({ options: {
  entries: { type: 'string', default: '100000' }, lookups: { type: 'string', default: '2000' }, json: { type: 'boolean', default: false },
} });
const N = Number(values.entries);
const L = Number(values.lookups);
const say = values.json ? () => {} : console.log;

// Deterministic word soup, no digits: digits go into the semantic context hash
// and would split the scope into many small groups (a lighter case).
const VOCAB = ('account billing refund invoice password reset login error timeout network server deploy release branch merge review ' +
  'weather forecast paris london tomorrow morning evening report quarterly sales region risk mitigation summary customer order ' +
  'shipping delay warehouse stock price discount coupon subscription cancel upgrade plan team member invite permission role admin ' +
  'database query index cache latency memory cpu disk backup restore migration schema table column row export import file upload').split(' ');
let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const question = () => {
  const n = 8 + Math.floor(rand() * 12);
  const w = [];
  for (let i = 0; i < n; i++) w.push(VOCAB[Math.floor(rand() * VOCAB.length)]);
  return `${w.join(' ')}?`;
};
const scope = { tenant: 'bench', agent: 'support', userId: 'u1', taskId: 't1' };
const tools = [{ name: 'calculator', description: 'arithmetic', parameters: { type: 'object', properties: { expr: { type: 'string' } } } }];
const req = (q) => ({ model: 'openai/gpt-4o-mini', messages: [{ role: 'system', content: 'You are a helpful support agent.' }, { role: 'user', content: q }], tools });
const answer = (i) => ({ model: 'openai/gpt-4o-mini', content: `answer ${i}`, toolCalls: [], finishReason: 'stop', usage: { inputTokens: 20, outputTokens: 5 }, costUsd: 0.00001, attempts: [{ attempt: 1, latencyMs: 300 }], scriptTurnsConsumed: 0 });

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const fmt = (xs) => ({ p50: pct(xs, 50), p99: pct(xs, 99), mean: xs.reduce((a, b) => a + b, 0) / xs.length });
const show = (label, f) => say(`${label.padEnd(46)} p50 ${f.p50.toFixed(3)} ms   p99 ${f.p99.toFixed(3)} ms   mean ${f.mean.toFixed(3)} ms`);
async function time(n, fn) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

say(`router cache lookup, ${N} entries in one scope, ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
const cache = new ResponseCache({ maxEntriesPerScope: N + 1, maxScopes: 10, similarity: 0.95 });
const questions = [];
const heap0 = process.memoryUsage();
const tFill = performance.now();
for (let i = 0; i < N; i++) {
  const q = question();
  questions.push(q);
  await cache.store(scope, req(q), answer(i));
}
const fillMs = performance.now() - tFill;
const heap1 = process.memoryUsage();
const { entries } = cache.stats();
say(`filled ${entries} entries (some generated questions repeat) in ${(fillMs / 1000).toFixed(1)} s; memory +${((heap1.heapUsed - heap0.heapUsed + heap1.arrayBuffers - heap0.arrayBuffers) / 2 ** 20).toFixed(0)} MiB (heap + vectors)`);

const pick = () => questions[Math.floor(rand() * questions.length)];
// Warm-up: JIT the paths measured below.
for (let i = 0; i < 200; i++) await cache.lookup(scope, req(pick()));

let hits = { exact: 0, semantic: 0, miss: 0 };
const count = (h) => { hits[h ? h.kind : 'miss']++; };
const exact = await time(L, async () => count(await cache.lookup(scope, req(pick()))));
// Same question lower-cased with the "?" dropped: a different exact key, the same local embedding → a semantic hit after a full scan.
const semHit = await time(L, async () => count(await cache.lookup(scope, req(pick().toLowerCase().replace(/\?$/, '')))));
const semMiss = await time(L, async () => count(await cache.lookup(scope, req(`${question()} please explain briefly`))));
show('exact hit (keys + map)', fmt(exact));
show('semantic hit (keys + embed + scan)', fmt(semHit));
show('semantic miss (keys + embed + scan)', fmt(semMiss));
say(`outcomes: ${JSON.stringify(hits)}`);

// The parts: embedding one question, and the scan alone over the same N vectors.
const embed = await time(L, () => localEmbed(question()));
show('  local embedding of one question', fmt(embed));
const group = new SemanticGroup(LOCAL_EMBEDDING_DIM, N);
for (let i = 0; i < N; i++) group.upsert({ key: String(i), response: null, createdAt: 0, expiresAt: Infinity }, localEmbed(questions[i]));
const queries = Array.from({ length: 200 }, () => localEmbed(`${question()} please explain briefly`));
const scan = await time(queries.length, (i) => group.search(queries[i], 0.95, 0));
show(`  scan alone, ${N} × ${LOCAL_EMBEDDING_DIM} (early abandon)`, fmt(scan));
// Reference: a plain full dot-product pass over the same matrix, what a scan costs with no early abandonment.
const flat = new Float32Array(N * LOCAL_EMBEDDING_DIM);
for (let i = 0; i < N; i++) flat.set(localEmbed(questions[i]), i * LOCAL_EMBEDDING_DIM);
const full = await time(50, (j) => {
  const q = queries[j];
  let best = -1;
  for (let i = 0; i < N; i++) {
    let d = 0;
    const base = i * LOCAL_EMBEDDING_DIM;
    for (let k = 0; k < LOCAL_EMBEDDING_DIM; k++) d += q[k] * flat[base + k];
    if (d > best) best = d;
  }
  return best;
});
show(`  full dot-product pass, ${N} × ${LOCAL_EMBEDDING_DIM} (reference)`, fmt(full));

if (values.json) {
  console.log(JSON.stringify({ entries, fillMs, exact: fmt(exact), semanticHit: fmt(semHit), semanticMiss: fmt(semMiss), embed: fmt(embed), scan: fmt(scan), fullScan: fmt(full), hits }));
}
