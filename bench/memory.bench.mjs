// Conversation memory: context assembly latency at 10,000 stored turns for one
// user, and retrieval quality on a labelled set. Printed, never asserted.
//   node tools/build-quiet.mjs && node bench/memory.bench.mjs [--turns 10000] [--queries 300] [--cold 40] [--json]
//
// Latency. A private database (keel_bench_memory_<random> on 127.0.0.1:5432,
// user postgres, dropped at the end, also on error or Ctrl-C) with the
// orchestrator's migrations. Memory is written exactly as the orchestrator
// writes it: one task row per exchange, then the final checkpoint through
// CheckpointRepository.commit with MemoryService.remember()'s MemoryWrite (turn
// content by hash in orchestrator.messages, memory_items rows with localEmbed
// vectors, facts extracted by extractFacts). Seeded: --turns turns of one user
// over 50 conversations (text from templates, a seeded PRNG), ~30 facts stated
// in some of them, a summary per conversation, and other users' rows (20 users
// of the same tenant, and the same user id in another tenant) so the indexes
// hold more than one user.
// Measured per query: MemoryService.context() — the real code: the repository's
// conversation() query, localEmbed of the input, fact ranking, the vector copy's
// refresh (turnVectorsAfter + VectorIndex.append), VectorIndex.search and
// turns() — then assembleContext() with the default budget (8,000 tokens).
// That is MemoryService.assemble minus the guardrail screen (a NATS round
// trip to another service) and its metrics. MemoryService is built with its
// real repository on a TypeORM DataSource (openDatabase) and stubs for the
// peers it does not call on this path.
//   cold: a new MemoryService per query, so its vector copy is empty and the
//         query loads all of the user's vectors from Postgres (what the first
//         step of a user on a fresh replica pays). The pool's connections and
//         their prepared statements are warm.
//   warm: one MemoryService, copy up to date (refresh finds no new row).
//
// Retrieval quality. evals/datasets/memory-retrieval.jsonl (4 users × 220
// turns, 48 queries; see memory-retrieval.generate.mjs): each user's turns are
// embedded with localEmbed into a VectorIndex, each query searched with the
// orchestrator's defaults (top 5, minSimilarity 0.2, as MemoryService does),
// and scored against the labelled relevant turns: precision@5 (relevant in
// the top 5 / 5), recall@5 (relevant in the top 5 / relevant), MRR (1 / rank
// of the first relevant hit in the top 5, 0 if none).
// What the embedding can and cannot do: localEmbed hashes character 3–5-grams
// and words (libs/text/src/local-embedding.ts). It finds turns that share
// words and word pieces with the query — names, identifiers, numbers, the
// user's own phrasing — and it cannot tell that "purchases table filling up
// with deleted rows" is about "autovacuum on the orders table": paraphrases
// and other languages score near noise. The set has lexical, paraphrase and
// cross-lingual queries and the figures are printed per kind so the average
// is not read as semantic recall.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mulberry32 } from '../tools/seeded-random.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const require = createRequire(import.meta.url);
let mod;
try {
  mod = {
    ...require(join(ROOT, 'libs/text/dist/index.js')),
    ...require(join(ROOT, 'libs/persistence/dist/index.js')),
    DEFAULT_MEMORY: require(join(ROOT, 'libs/contracts/dist/index.js')).DEFAULT_MEMORY,
    ...require(join(ROOT, 'apps/orchestrator/dist/migrations/index.js')),
    ...require(join(ROOT, 'apps/orchestrator/dist/checkpoints/checkpoint.repository.js')),
    ...require(join(ROOT, 'apps/orchestrator/dist/memory/memory.repository.js')),
    ...require(join(ROOT, 'apps/orchestrator/dist/memory/memory.service.js')),
    ...require(join(ROOT, 'apps/orchestrator/dist/memory/vector-index.js')),
    ...require(join(ROOT, 'apps/orchestrator/dist/memory/context-assembler.js')),
  };
} catch (err) {
  console.error(`cannot load the built orchestrator (build first: node tools/build-quiet.mjs): ${err.message}`);
  process.exit(1);
}
const {
  localEmbed, LOCAL_EMBEDDING_DIM, openDatabase, migrate, DEFAULT_MEMORY, ORCHESTRATOR_MIGRATIONS, CheckpointRepository,
  MemoryRepository, MemoryService, VectorIndex, assembleContext, MEMORY_RULE,
} = mod;
const { Client } = require('pg');

const { values } = parseArgs({ options: {
  turns: { type: 'string', default: '10000' }, queries: { type: 'string', default: '300' }, cold: { type: 'string', default: '40' },
  json: { type: 'boolean', default: false },
} });
const TURNS = Number(values.turns);
const QUERIES = Number(values.queries);
const COLD = Number(values.cold);
const say = values.json ? () => {} : console.log;

const PG_SERVER = process.env.KEEL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TENANT = 'bench';
const USER = 'u-bench';
const CONVERSATIONS = 50;
const OTHER_USERS = 20;
const OTHER_USER_TURNS = 250;

// ---------------------------------------------------------------------------
// Seeded text: a help-desk / assistant workload with varied topics and lengths.

const rand = mulberry32(20261202);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const cap = (s) => s[0].toUpperCase() + s.slice(1);

const W = {
  thing: ['the quarterly report', 'the invoice for Contoso', 'the staging database', 'the onboarding checklist', 'the release notes for 4.2', 'the API rate limits',
    'the marketing budget', 'the holiday rota', 'the customer survey', 'the Kubernetes cluster', 'the login page', 'the search index', 'the data export',
    'the Lisbon offsite', 'the travel policy', 'the pricing page', 'the support backlog', 'the nightly backup', 'the mobile app build', 'the SLA for Fabrikam'],
  verb: ['summarise', 'review', 'rewrite', 'check', 'speed up', 'plan', 'estimate', 'fix', 'document', 'translate', 'simplify', 'compare'],
  problem: ['failing intermittently', 'much slower than last week', 'missing two columns', 'out of date', 'showing the wrong totals', 'timing out after 30 seconds',
    'rejected by finance', 'stuck in review', 'throwing a 502 error', 'using twice the memory'],
  when: ['since Monday', 'after the last deploy', 'every night at 2am', 'for a few customers only', 'since the migration', 'on the first of each month'],
  person: ['Priya', 'Marco', 'the finance team', 'our CTO', 'the new intern', 'Sven', 'the customer', 'Aiko'],
  topic: ['OAuth token refresh', 'Postgres vacuum', 'CSS grid', 'VAT on digital services', 'sourdough starters', 'marathon tapering', 'index funds',
    'TLS certificates', 'React hooks', 'JetStream consumers', 'GDPR data requests', 'backpropagation', 'the French subjunctive', 'HTTP caching'],
  advice: ['start with the slowest query in the logs', 'split it into two smaller steps', 'add a retry with exponential backoff', 'ask finance for the original numbers',
    'check the timezone of the scheduled job', 'compare it with the version from last month', 'move the heavy part to a background job',
    'add an index on the column in the WHERE clause', 'keep the first paragraph to three sentences', 'use the template from the wiki',
    'turn on request logging for one hour', 'pin the dependency to the previous minor version'],
  ticket: Array.from({ length: 400 }, (_, i) => `#${4000 + i * 7}`),
  day: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', '3 March', '14 May', '2 June', '21 September', '30 October'],
  detail: ['That usually removes most of the delay.', 'Keep a copy of the old version until it is confirmed.', 'It should take about twenty minutes.',
    'The numbers should then match the dashboard.', 'Let me know if the error message changes.', 'Most teams do this once per quarter.',
    'The documentation has an example of exactly this case.', 'After that, run the check again to confirm.'],
};
const USER_TEMPLATES = [
  (w) => `Can you ${w.verb} ${w.thing}?`,
  (w) => `Ticket ${w.ticket}: ${w.thing} is ${w.problem} ${w.when}. Can you ${w.verb} it before ${w.day}?`,
  (w) => `Following up on ${w.ticket}, ${w.person} asked whether we can ${w.verb} ${w.thing} by ${w.day}.`,
  (w) => `${cap(w.thing)} is ${w.problem} ${w.when}. Any idea why?`,
  (w) => `Please draft a short note to ${w.person} about ${w.thing}.`,
  (w) => `Explain ${w.topic} in a few sentences.`,
  (w) => `What's the quickest way to ${w.verb} ${w.thing}?`,
  (w) => `${cap(w.person)} says ${w.thing} is ${w.problem}. Could you take a look?`,
  (w) => `Compare two ways to ${w.verb} ${w.thing}, with pros and cons.`,
  (w) => `Quick question about ${w.topic}: is it still recommended?`,
  (w) => `Here is some context: ${w.thing} has been ${w.problem} ${w.when}, and ${w.person} wants an update today. What should the next step be, and who should own it?`,
];
const ASSISTANT_TEMPLATES = [
  (w) => `For ${w.thing}, ${w.advice}. ${w.detail}`,
  (w) => `On ticket ${w.ticket}: ${w.advice}, and ${pick(W.advice)}. I would aim to close it by ${w.day}. ${w.detail}`,
  (w) => `${cap(w.person)} can ${w.verb} ${w.thing} by ${w.day} if we ${w.advice} first. ${w.detail}`,
  (w) => `Short answer: ${w.advice}. ${w.detail}`,
  (w) => `${cap(w.topic)} in brief: ${w.advice}, then ${pick(W.advice)}. ${w.detail}`,
  (w) => `Here is a draft for ${w.person}: "${cap(w.thing)} is ${w.problem}; we will ${w.advice} and report back by Friday." ${w.detail}`,
  // Long answers: several sentences (some over the 600 characters a retrieved turn is clipped to).
  (w) => Array.from({ length: 4 + Math.floor(rand() * 8) }, (_, i) => (i === 0 ? `About ${w.thing}: ${w.advice}.` : `${cap(pick(W.advice))}. ${pick(W.detail)}`)).join(' '),
];
const slots = () => Object.fromEntries(Object.entries(W).map(([k, xs]) => [k, pick(xs)]));
const FACTS = [
  'My name is Ana Costa.', 'I live in Lisbon.', 'I prefer short answers with bullet points.', "I'm allergic to shellfish.", 'My dog is called Pixel.',
  'I work at Northwind as a data engineer.', 'My timezone is Europe/Lisbon.', 'I speak Portuguese, English and some German.', 'My birthday is on 3 March.',
  'I am vegetarian since 2019.', 'My favourite editor is Neovim.', 'I hate meetings before 10am.', 'My partner is called Rui.', 'I use Postgres 16 at work.',
  'My goal this year is to run a marathon.', 'I never drink coffee after 4pm.', 'My team is the data platform team.', 'I prefer metric units.',
  'My company is Northwind Traders.', 'I love hiking in the Alps.', 'My role is staff engineer.', 'I am based in the Lisbon office.', 'I dislike emoji in emails.',
  'My budget for the offsite is 12,000 euros.', 'My phone is a Pixel 8.', 'Please remember that I am on leave in August.', 'I always fly with TAP.',
  'My favourite cuisine is Japanese.', 'My daughter is called Lia.', 'Call me Ana, not Mrs Costa.',
];

/** One exchange: a user turn (sometimes stating a fact first) and the assistant's answer. */
function exchange(fact) {
  const w = slots();
  const question = pick(USER_TEMPLATES)(w);
  return { user: fact ? `${fact} ${question}` : question, answer: pick(ASSISTANT_TEMPLATES)(w) };
}

// ---------------------------------------------------------------------------

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const stats = (xs) => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), mean: xs.reduce((a, b) => a + b, 0) / xs.length });
const stub = (name) => new Proxy({}, { get: (_, prop) => () => { throw new Error(`${name}.${String(prop)} is not on the measured path`); } });
const logger = { info() {}, warn() {}, error() {}, debug() {} };
const settings = { ...DEFAULT_MEMORY };

let admin;
let dbName;
let ds;
async function dropDatabase() {
  if (!dbName) return;
  const name = dbName;
  dbName = undefined;
  await ds?.destroy().catch(() => undefined);
  const c = new Client({ connectionString: PG_SERVER });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
process.on('SIGINT', () => { dropDatabase().finally(() => process.exit(130)); });

async function latency() {
  dbName = `keel_bench_memory_${randomBytes(5).toString('hex')}`;
  admin = new Client({ connectionString: PG_SERVER });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(PG_SERVER);
  url.pathname = `/${dbName}`;
  ds = await openDatabase({ url: url.toString(), schema: 'orchestrator', migrations: ORCHESTRATOR_MIGRATIONS, poolSize: 8, applicationName: 'keel-bench-memory' });
  await migrate(ds, 'orchestrator');
  const repo = new MemoryRepository(ds);
  const checkpoints = new CheckpointRepository(ds);
  const writer = new MemoryService(repo, stub('peers'), checkpoints, stub('events'), logger);

  // Seed: [tenant, user, conversation, exchange] in time order (users interleaved), then tasks + final commits.
  const plan = [];
  const factAt = new Map(Array.from({ length: FACTS.length }, (_, i) => [Math.floor(((i + 0.5) / FACTS.length) * (TURNS / 2)), FACTS[i]]));
  for (let i = 0; i < TURNS / 2; i++) plan.push({ tenant: TENANT, userId: USER, conversationId: `conv-${String(1 + Math.floor(rand() * CONVERSATIONS)).padStart(2, '0')}`, ...exchange(factAt.get(i)) });
  for (let u = 0; u < OTHER_USERS; u++) {
    for (let i = 0; i < OTHER_USER_TURNS / 2; i++) plan.push({ tenant: TENANT, userId: `u-other-${u}`, conversationId: `conv-${u}-${i % 5}`, ...exchange(i === 0 ? FACTS[u] : undefined) });
  }
  // The same user id in another tenant: never read by the bench tenant's queries.
  for (let i = 0; i < OTHER_USER_TURNS / 2; i++) plan.push({ tenant: 'other-tenant', userId: USER, conversationId: 'conv-01', ...exchange() });
  const ordered = plan.map((p) => ({ p, k: rand() })).sort((a, b) => a.k - b.k).map((x) => x.p);
  const t0 = performance.now();
  const ids = ordered.map(() => randomUUID());
  await ds.query(
    `INSERT INTO orchestrator.tasks (id, tenant, user_id, agent, status, source, input, conversation_id, deadline_at)
     SELECT x.id, x.tenant, x.user_id, 'assistant', 'running', 'rest', x.input, x.conversation_id, now() + interval '1 hour'
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS x(id, tenant, user_id, input, conversation_id)`,
    [ids, ordered.map((p) => p.tenant), ordered.map((p) => p.userId), ordered.map((p) => p.user), ordered.map((p) => p.conversationId)],
  );
  const system = { role: 'system', content: `You are a helpful assistant.\n\n${MEMORY_RULE}` };
  let next = 0;
  const commitOne = async (i) => {
    const p = ordered[i];
    const state = { id: ids[i], tenant: p.tenant, userId: p.userId, conversationId: p.conversationId, input: p.user };
    const res = await checkpoints.commit({
      taskId: ids[i], step: 1, expectStep: 0, expectStatus: ['running'], status: 'succeeded', finished: true, output: p.answer,
      messages: [system, { role: 'user', content: p.user }, { role: 'assistant', content: p.answer }], events: [],
      remember: writer.remember(state, p.user, p.answer),
    });
    if (!res.committed) throw new Error(`seed commit ${i} was not committed`);
  };
  // Commits in time order per worker; 4 workers (a 2-core machine).
  await Promise.all(Array.from({ length: 4 }, async () => { while (next < ordered.length) await commitOne(next++); }));
  // A rolling summary per conversation of the user, as refreshSummary would leave it.
  for (let c = 1; c <= CONVERSATIONS; c++) {
    const conversationId = `conv-${String(c).padStart(2, '0')}`;
    const [{ through }] = await ds.query(`SELECT max(id)::float8 AS through FROM orchestrator.memory_items WHERE tenant = $1 AND user_key = $2 AND conversation_id = $3`, [TENANT, USER, conversationId]);
    const text = Array.from({ length: 8 }, () => exchange().user).join('\n');
    await repo.saveSummary(TENANT, USER, conversationId, text, Math.max(0, Number(through) - 40), 0);
  }
  await ds.query('ANALYZE');
  const seedMs = performance.now() - t0;
  const [counts] = await ds.query(
    `SELECT count(*) FILTER (WHERE tenant = $1 AND user_key = $2 AND kind = 'turn')::int AS turns,
            count(*) FILTER (WHERE tenant = $1 AND user_key = $2 AND kind = 'fact')::int AS facts,
            count(*)::int AS all_items,
            (SELECT count(*)::int FROM orchestrator.messages) AS messages,
            (SELECT pg_size_pretty(pg_total_relation_size('orchestrator.memory_items'))) AS size
       FROM orchestrator.memory_items`, [TENANT, USER]);
  say(`seeded in ${(seedMs / 1000).toFixed(1)} s (${ordered.length} final checkpoints): user ${USER} has ${counts.turns} turns in ${CONVERSATIONS} conversations and ${counts.facts} facts; `
    + `memory_items ${counts.all_items} rows (${counts.size}), messages ${counts.messages} rows`);

  // Queries: a new input in one of the user's conversations.
  const queries = Array.from({ length: QUERIES + COLD + 30 }, () => ({
    tenant: TENANT, userId: USER, conversationId: `conv-${String(1 + Math.floor(rand() * CONVERSATIONS)).padStart(2, '0')}`, input: exchange().user,
  }));
  const tools = [{ name: 'calculator', description: 'Evaluates an arithmetic expression.', parameters: { type: 'object', properties: { expression: { type: 'string' } }, required: ['expression'] } }];
  const parts = {};
  const timed = (label, fn) => async (...args) => {
    const t = performance.now();
    try {
      return await fn(...args);
    } finally {
      (parts[label] ??= []).push(performance.now() - t);
    }
  };
  // The same repository for every service; its methods are timed for the breakdown (the path is unchanged).
  const timedRepo = new MemoryRepository(ds);
  for (const m of ['conversation', 'turnVectorsAfter', 'turns']) timedRepo[m] = timed(m, repo[m].bind(repo));
  const service = () => {
    const s = new MemoryService(timedRepo, stub('peers'), checkpoints, stub('events'), logger);
    const index = s.index;
    const search = index.search.bind(index);
    const append = index.append.bind(index);
    index.search = (...args) => { const t = performance.now(); try { return search(...args); } finally { (parts['VectorIndex.search'] ??= []).push(performance.now() - t); } };
    index.append = (...args) => { const t = performance.now(); try { return append(...args); } finally { (parts['VectorIndex.append'] ??= []).push(performance.now() - t); } };
    return s;
  };
  const reports = [];
  const run = async (s, q) => {
    const t = performance.now();
    const memory = await s.context(q, settings);
    const a = performance.now();
    const out = assembleContext({ transcript: [system, { role: 'user', content: q.input }], memory, budget: settings.contextTokens, tools });
    (parts.assembleContext ??= []).push(performance.now() - a);
    reports.push(out.report);
    return performance.now() - t;
  };
  const measure = async (label, n, fn) => {
    for (const k of Object.keys(parts)) delete parts[k];
    reports.length = 0;
    const xs = [];
    for (let i = 0; i < n; i++) xs.push(await fn(i));
    return { label, total: stats(xs), parts: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, stats(v)])), reports: [...reports] };
  };
  // JIT warm-up of the code paths (not measured).
  const w = service();
  for (let i = 0; i < 20; i++) await run(w, queries[i]);
  let qi = 20;
  const cold = await measure('cold (new copy: loads all vectors)', COLD, () => run(service(), queries[qi++]));
  const warmService = service();
  await run(warmService, queries[qi++]);
  const warm = await measure('warm (copy up to date)', QUERIES, () => run(warmService, queries[qi++]));
  const embed = stats(queries.slice(0, QUERIES).map((q) => { const t = performance.now(); localEmbed(q.input); return performance.now() - t; }));
  return { counts, seedMs, cold, warm, embed };
}

function retrieval() {
  const path = join(ROOT, 'evals/datasets/memory-retrieval.jsonl');
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const index = new VectorIndex(LOCAL_EMBEDDING_DIM);
  const turnsOf = new Map();
  for (const u of lines.filter((l) => l.type === 'user')) {
    index.append(u.userId, u.turns.map((t) => ({ id: t.id, vector: localEmbed(t.content) })));
    turnsOf.set(u.userId, u.turns.length);
  }
  const K = settings.retrieveTopK;
  const score = (minScore) => {
    const byKind = {};
    for (const q of lines.filter((l) => l.type === 'query')) {
      const hits = index.search(q.userId, localEmbed(q.query), K, minScore);
      const relevant = new Set(q.relevant);
      const found = hits.filter((h) => relevant.has(h.id)).length;
      const first = hits.findIndex((h) => relevant.has(h.id));
      for (const kind of [q.kind, 'all']) {
        const s = (byKind[kind] ??= { n: 0, p: 0, r: 0, mrr: 0, returned: 0 });
        s.n++;
        s.p += found / K;
        s.r += found / relevant.size;
        s.mrr += first < 0 ? 0 : 1 / (first + 1);
        s.returned += hits.length;
      }
    }
    return Object.fromEntries(Object.entries(byKind).map(([k, s]) => [k, { n: s.n, precisionAt5: s.p / s.n, recallAt5: s.r / s.n, mrr: s.mrr / s.n, returned: s.returned / s.n }]));
  };
  return { users: turnsOf.size, turns: [...turnsOf.values()], k: K, configured: score(settings.minSimilarity), noThreshold: score(-1) };
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ')} |`;
  say(line(header));
  say(`|${widths.map((w, i) => (i === 0 ? ':' : '') + '-'.repeat(w + 1) + (i === 0 ? '' : ':')).join('|')}|`);
  for (const r of rows) say(line(r));
}

const started = new Date();
say(`memory bench ${started.toISOString()} on ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
let result;
try {
  const lat = await latency();
  const ret = retrieval();
  result = { lat, ret };
  const ms = (x) => x.toFixed(2);
  say(`\nContext assembly for one conversation task, ${lat.counts.turns} stored turns of the user, budget ${settings.contextTokens} tokens, top ${settings.retrieveTopK}, window ${settings.window} (ms)`);
  const order = ['conversation', 'turnVectorsAfter', 'VectorIndex.append', 'VectorIndex.search', 'turns', 'assembleContext'];
  table(['', 'n', 'p50', 'p99', 'mean', ...order.map((o) => `${o} p50`)], [lat.cold, lat.warm].map((m) => [
    m.label, m.total.n, ms(m.total.p50), ms(m.total.p99), ms(m.total.mean), ...order.map((o) => (m.parts[o] ? ms(m.parts[o].p50) : '–')),
  ]));
  const kept = (m) => {
    const avg = (f) => (m.reports.reduce((s, r) => s + f(r), 0) / m.reports.length).toFixed(1);
    return `prompt ${avg((r) => r.tokens)} tokens; kept facts ${avg((r) => r.kept.facts)}, retrieved ${avg((r) => r.kept.retrieved)}, recent ${avg((r) => r.kept.recent)}, summary ${avg((r) => (r.kept.summary ? 1 : 0))} (means)`;
  };
  say(`warm: ${kept(lat.warm)}; localEmbed of the input alone p50 ${ms(lat.embed.p50)} ms`);
  say('Not included: the guardrail screen of the memory block (MemoryService.assemble sends it to the guardrail over NATS, cached per block).');

  say(`\nRetrieval on evals/datasets/memory-retrieval.jsonl (${ret.users} users × ${ret.turns[0]} turns), localEmbed + VectorIndex, top ${ret.k}`);
  const rows = [];
  for (const [label, s] of [['minSimilarity 0.2 (as configured)', ret.configured], ['no threshold', ret.noThreshold]]) {
    for (const kind of ['all', 'lexical', 'paraphrase', 'cross-lingual']) {
      const f = s[kind];
      if (f) rows.push([`${label}: ${kind}`, f.n, f.precisionAt5.toFixed(3), f.recallAt5.toFixed(3), f.mrr.toFixed(3), f.returned.toFixed(1)]);
    }
  }
  table(['', 'queries', 'precision@5', 'recall@5', 'MRR', 'hits returned'], rows);
  say('Relevant turns per query: 4 (so precision@5 is at most 0.8). The embedding matches surface form (shared words and word pieces);');
  say('paraphrase and cross-lingual rows show what it cannot do. Printed, never asserted.');
} finally {
  await dropDatabase();
}
if (values.json) console.log(JSON.stringify({ at: started.toISOString(), ...result, lat: { ...result.lat, cold: { ...result.lat.cold, reports: undefined }, warm: { ...result.lat.warm, reports: undefined } } }));
