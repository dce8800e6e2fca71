// Tokens and dollars saved by the router's cascade and response cache on the
// regression dataset (evals/datasets/router-regression.jsonl). Printed, never asserted.
//   node tools/build-quiet.mjs && node bench/router-savings.bench.mjs [--dataset path] [--json]
//
// Two configurations over the same cases, each run sequentially in dataset order
// (the cache depends on order), on one Keel stack (startKeel: five processes,
// private nats-server, fresh database):
//   baseline   agent `baseline`: model scripted/strong, no cache; script [strong]
//   optimized  agent `assistant`: model scripted/cheap, cascade [scripted/cheap, scripted/strong]
//              at minConfidence 0.7, cache: true; script [cheap, strong] (the strong
//              turn is consumed only when the cascade escalates; a cache hit consumes none)
// Prices (KEEL_PRICES_FILE): scripted/cheap at gpt-4o-mini's list price, scripted/strong at
// gpt-4o's (apps/router/prices.json). The turns carry no `usage`, so the router counts the
// tokens of the real texts with its tokenizer (o200k).
//
// Per case: the task (status, output, usage) over REST, and the `model.completed` event
// (cache, route.escalations) from orchestrator.task_events; router.usage is read as a
// cross-check of the per-model split. "Model tokens" are tokens a model processed: a
// cache hit has none, and the task's usage says so too (the event's `cache.saved` has what it avoided).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import testing from '@keel/testing';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: {
  dataset: { type: 'string', default: join(HERE, '../evals/datasets/router-regression.jsonl') },
  json: { type: 'boolean', default: false },
} });
const say = values.json ? () => {} : console.log;
const benchStarted = performance.now();

const CHEAP = 'scripted/cheap';
const STRONG = 'scripted/strong';
const MIN_CONFIDENCE = 0.7;
// OpenAI list prices, USD per 1M tokens, as in apps/router/prices.json.
const PRICES = {
  [CHEAP]: { inputPerMTok: 0.15, outputPerMTok: 0.6, cachedInputPerMTok: 0.075 }, // openai/gpt-4o-mini
  [STRONG]: { inputPerMTok: 2.5, outputPerMTok: 10, cachedInputPerMTok: 1.25 }, // openai/gpt-4o
};
const SYSTEM = 'You are a helpful assistant for a small company. Answer accurately and concisely; for calculations, show the key steps.';

const cases = readFileSync(values.dataset, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
const questionOf = (c) => c.tags.find((t) => t.startsWith('q:')) ?? c.input;
const has = (c, tag) => c.tags.includes(tag);

const dir = mkdtempSync(join(tmpdir(), 'keel-bench-savings-'));
const agentsDir = join(dir, 'agents');
const pricesFile = join(dir, 'prices.json');
const indent = (s) => s.replace(/^/gm, '  ');
writeFileSync(pricesFile, JSON.stringify({ asOf: '2025-06-01', models: PRICES }, null, 2));

let keel;
let db;
try {
  mkdirSync(agentsDir);
  writeFileSync(join(agentsDir, 'baseline.yaml'), `name: baseline\nmodel: ${STRONG}\nsystemPrompt: |\n${indent(SYSTEM)}\n`);
  writeFileSync(join(agentsDir, 'assistant.yaml'), [
    'name: assistant', `model: ${CHEAP}`, `systemPrompt: |\n${indent(SYSTEM)}`,
    'routing:', `  cascade: {models: [${CHEAP}, ${STRONG}], minConfidence: ${MIN_CONFIDENCE}}`, 'cache: true', '',
  ].join('\n'));

  const t0 = performance.now();
  keel = await testing.startKeel({ agentsDir, env: { LOG_LEVEL: 'warn', KEEL_PRICES_FILE: pricesFile } });
  const startupMs = performance.now() - t0;
  db = new pg.Client({ connectionString: keel.db.url });
  await db.connect();

  const api = async (path, init = {}) => {
    const res = await fetch(`${keel.url('orchestrator')}${path}`, { ...init, headers: { Authorization: `Bearer ${keel.apiKey}`, 'Content-Type': 'application/json' } });
    const body = await res.json();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];
  const runCase = async (c, agent, script) => {
    const { id } = await api('/v1/tasks', { method: 'POST', body: JSON.stringify({ input: c.input, agent, userId: c.userId, metadata: { script } }) });
    return testing.waitFor(`task ${id} (${c.id})`, async () => {
      const t = await api(`/v1/tasks/${id}`);
      return TERMINAL.includes(t.status) ? t : undefined;
    }, 30_000, 10);
  };
  const runConfig = async (name, agent, scriptOf) => {
    const started = performance.now();
    const tasks = [];
    for (const c of cases) tasks.push(await runCase(c, agent, scriptOf(c)));
    const wallMs = performance.now() - started;
    const ids = tasks.map((t) => t.id);
    const rows = (await db.query(`SELECT task_id, data FROM orchestrator.task_events WHERE task_id = ANY($1) AND type = 'model.completed' ORDER BY seq`, [ids])).rows;
    const events = new Map();
    for (const r of rows) {
      if (events.has(r.task_id)) throw new Error(`task ${r.task_id} has more than one model.completed event`);
      events.set(r.task_id, r.data);
    }
    const results = tasks.map((t, i) => {
      const ev = events.get(t.id);
      const escalations = ev?.route?.escalations ?? [];
      const cache = ev?.cache;
      return {
        case: cases[i], taskId: t.id, status: t.status, error: t.error, output: t.output, usage: t.usage,
        // A task the guardrail blocked (or that failed before its model turn) never reached the router.
        reached: ev !== undefined, cache, escalations, model: ev?.model,
        // What models processed: nothing on a cache hit.
        modelTokens: cache ? { in: 0, out: 0 } : { in: t.usage.inputTokens, out: t.usage.outputTokens },
        passedOverUsd: escalations.reduce((s, e) => s + (e.costUsd ?? 0), 0),
        passedOverTokens: escalations.reduce((s, e) => s + (e.usage?.inputTokens ?? 0) + (e.usage?.outputTokens ?? 0), 0),
      };
    });
    // Usage rows are written in 200 ms batches when no budget applies: wait for this run's rows (one per call, one per cache hit).
    const expectedRows = results.reduce((n, r) => n + (r.reached ? 1 + r.escalations.length : 0), 0);
    const usageRows = await testing.waitFor(`${expectedRows} router.usage rows of ${name}`, async () => {
      const q = await db.query(`SELECT model, cache_hit, count(*)::int AS calls, sum(input_tokens)::int AS input, sum(output_tokens)::int AS output, sum(cost_usd)::float8 AS cost
        FROM router.usage WHERE task_id = ANY($1) GROUP BY model, cache_hit ORDER BY model, cache_hit`, [ids]);
      return q.rows.reduce((n, r) => n + r.calls, 0) >= expectedRows ? q.rows : undefined;
    }, 10_000, 50);
    return { name, agent, wallMs, results, usageRows };
  };

  say(`router savings: ${cases.length} cases from ${values.dataset}; ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${loadavg()[0].toFixed(2)}; Keel started in ${(startupMs / 1000).toFixed(1)} s`);
  const baseline = await runConfig('baseline', 'baseline', (c) => [c.turns.strong]);
  const optimized = await runConfig('optimized', 'assistant', (c) => [c.turns.cheap, c.turns.strong]);

  // ---- figures
  const sum = (rs, f) => rs.reduce((s, r) => s + f(r), 0);
  const totals = (run) => ({
    cases: run.results.length,
    succeeded: run.results.filter((r) => r.status === 'succeeded').length,
    inputTokens: sum(run.results, (r) => r.modelTokens.in),
    outputTokens: sum(run.results, (r) => r.modelTokens.out),
    costUsd: sum(run.results, (r) => r.usage.costUsd),
    reportedInputTokens: sum(run.results, (r) => r.usage.inputTokens),
    reportedOutputTokens: sum(run.results, (r) => r.usage.outputTokens),
    wallMs: run.wallMs,
  });
  const B = totals(baseline);
  const O = totals(optimized);
  const pairs = optimized.results.map((o, i) => ({ o, b: baseline.results[i], c: cases[i] }));
  const tok = (r) => r.modelTokens.in + r.modelTokens.out;
  const group = (ps) => ({
    cases: ps.length,
    baselineTokens: sum(ps, (p) => tok(p.b)), optimizedTokens: sum(ps, (p) => tok(p.o)),
    baselineUsd: sum(ps, (p) => p.b.usage.costUsd), optimizedUsd: sum(ps, (p) => p.o.usage.costUsd),
  });
  const hitsExact = pairs.filter((p) => p.o.cache?.kind === 'exact');
  const hitsSemantic = pairs.filter((p) => p.o.cache?.kind === 'semantic');
  // Cases that never reached the router (blocked by the guardrail, …) cost nothing in either configuration.
  const notReached = pairs.filter((p) => !p.o.reached || !p.b.reached);
  const misses = pairs.filter((p) => p.o.reached && !p.o.cache);
  const cheapAnswered = misses.filter((p) => p.o.escalations.length === 0);
  const escalated = misses.filter((p) => p.o.escalations.length > 0);
  const src = {
    cacheExact: group(hitsExact), cacheSemantic: group(hitsSemantic), cheapAnswered: group(cheapAnswered), escalated: group(escalated),
  };
  src.escalated.passedOverUsd = sum(escalated, (p) => p.o.passedOverUsd);
  src.escalated.passedOverTokens = sum(escalated, (p) => p.o.passedOverTokens);

  // Correctness: the output against expected.output, per configuration; cases that never reached a model listed apart.
  const wrong = (run) => run.results.filter((r) => r.reached && r.output !== r.case.expected.output).map((r) => ({ id: r.case.id, status: r.status, error: r.error?.code, output: r.output }));
  const blocked = (run) => run.results.filter((r) => !r.reached).map((r) => ({ id: r.case.id, question: questionOf(r.case).replace(/^q:/, ''), status: r.status, error: r.error?.code, message: r.error?.message }));
  const blockedB = blocked(baseline);
  const blockedO = blocked(optimized);
  const wrongB = wrong(baseline);
  const wrongO = wrong(optimized);
  // Routing where the dataset says it should not go: an easy case escalated, or a hard one answered by the cheap model.
  const misrouted = misses.filter((p) => (has(p.c, 'easy') ? p.o.escalations.length > 0 : p.o.escalations.length === 0)).map((p) => p.c.id);

  // Cache behaviour by case kind, in dataset order.
  const askedBefore = new Map(); // question -> users whose first ask of it reached the router before this case
  const crossUser = [];
  for (const p of pairs) {
    if (!p.o.reached) continue;
    const q = questionOf(p.c);
    const users = askedBefore.get(q) ?? new Set();
    if (has(p.c, 'first-ask') && [...users].some((u) => u !== p.c.userId)) crossUser.push(p);
    users.add(p.c.userId);
    askedBefore.set(q, users);
  }
  const crossUserHits = crossUser.filter((p) => p.o.cache);
  const firstAskHits = pairs.filter((p) => has(p.c, 'first-ask') && p.o.cache);
  const outcome = (p) => (p.o.cache ? `${p.o.cache.kind}${p.o.cache.kind === 'semantic' ? ` (${p.o.cache.similarity.toFixed(4)})` : ''}` : 'miss');
  const byKind = {};
  for (const p of pairs.filter((x) => x.o.reached && !has(x.c, 'first-ask'))) {
    const kind = has(p.c, 'repeat-exact') ? 'repeat-exact' : p.c.tags.find((t) => t.startsWith('variant:')) ?? 'repeat-variant';
    const k = (byKind[kind] ??= { cases: 0, exact: 0, semantic: 0, miss: 0, details: [] });
    k.cases++;
    k[p.o.cache?.kind ?? 'miss']++;
    if (kind !== 'repeat-exact' || !p.o.cache) k.details.push(`${p.c.id} ${outcome(p)}`);
  }

  // ---- printing
  const usd = (x) => `${x < -5e-7 ? '-' : ''}$${Math.abs(x).toFixed(6)}`;
  const int = (x) => Math.round(x).toLocaleString('en-US');
  const pctOf = (part, whole) => (whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)} %`);
  const table = (head, rows) => {
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    const line = (r) => r.map((x, i) => (i === 0 ? String(x).padEnd(w[i]) : String(x).padStart(w[i]))).join('  ');
    say(line(head));
    say(w.map((n) => '-'.repeat(n)).join('  '));
    for (const r of rows) say(line(r));
  };
  say('');
  say(`baseline: ${B.succeeded}/${B.cases} succeeded in ${(B.wallMs / 1000).toFixed(1)} s; optimized: ${O.succeeded}/${O.cases} succeeded in ${(O.wallMs / 1000).toFixed(1)} s (sequential, submit → terminal over REST)`);
  say('');
  const savedTok = B.inputTokens + B.outputTokens - O.inputTokens - O.outputTokens;
  table(['', `baseline (${STRONG} only)`, 'optimized (cascade + cache)', 'saved', 'saved %'], [
    ['input tokens', int(B.inputTokens), int(O.inputTokens), int(B.inputTokens - O.inputTokens), pctOf(B.inputTokens - O.inputTokens, B.inputTokens)],
    ['output tokens', int(B.outputTokens), int(O.outputTokens), int(B.outputTokens - O.outputTokens), pctOf(B.outputTokens - O.outputTokens, B.outputTokens)],
    ['total tokens', int(B.inputTokens + B.outputTokens), int(O.inputTokens + O.outputTokens), int(savedTok), pctOf(savedTok, B.inputTokens + B.outputTokens)],
    ['cost (USD)', usd(B.costUsd), usd(O.costUsd), usd(B.costUsd - O.costUsd), pctOf(B.costUsd - O.costUsd, B.costUsd)],
    ['cost per 1k cases (USD)', usd((1000 * B.costUsd) / B.cases), usd((1000 * O.costUsd) / O.cases), usd((1000 * (B.costUsd - O.costUsd)) / B.cases), ''],
  ]);
  say(`(model tokens: tokens a model processed; a cache hit has none. The optimized tasks' own usage reports ${int(O.reportedInputTokens)} input + ${int(O.reportedOutputTokens)} output tokens.)`);
  say('');
  say('where the savings come from (tokens and $ saved against the same cases in the baseline; negative = extra):');
  const savedUsd = B.costUsd - O.costUsd;
  const srcRow = (label, g, tokens, dollars) => [label, g.cases, int(tokens), usd(dollars), pctOf(dollars, savedUsd)];
  table(['source', 'cases', 'tokens saved', 'USD saved', 'share of USD saved'], [
    srcRow('cache hit, exact (what those cases cost in the baseline)', src.cacheExact, src.cacheExact.baselineTokens, src.cacheExact.baselineUsd),
    srcRow('cache hit, semantic (same)', src.cacheSemantic, src.cacheSemantic.baselineTokens, src.cacheSemantic.baselineUsd),
    srcRow(`cascade, answered by ${CHEAP} (same tokens, cheaper model)`, src.cheapAnswered, src.cheapAnswered.baselineTokens - src.cheapAnswered.optimizedTokens, src.cheapAnswered.baselineUsd - src.cheapAnswered.optimizedUsd),
    srcRow(`cascade, escalated to ${STRONG} (passed-over ${CHEAP} answers)`, src.escalated, src.escalated.baselineTokens - src.escalated.optimizedTokens, src.escalated.baselineUsd - src.escalated.optimizedUsd),
    ...(notReached.length ? [['never reached the router (guardrail block, …): $0 in both', notReached.length, 0, usd(0), '']] : []),
    ['total', B.cases, int(savedTok), usd(savedUsd), ''],
  ]);
  say(`escalations: ${escalated.length} cases paid ${usd(src.escalated.passedOverUsd)} and ${int(src.escalated.passedOverTokens)} tokens for ${CHEAP} answers below confidence ${MIN_CONFIDENCE} before ${STRONG} answered`);
  say(`router.usage (optimized): ${optimized.usageRows.map((r) => `${r.model}${r.cache_hit ? ' cache-hit' : ''}: ${r.calls} rows, ${int(r.input)} in + ${int(r.output)} out tokens, ${usd(r.cost)}`).join('; ')}`);
  say('');
  const answered = (bl) => B.cases - bl.length;
  say(`correctness (output === expected.output, of the cases that reached a model): baseline ${answered(blockedB) - wrongB.length}/${answered(blockedB)}, optimized ${answered(blockedO) - wrongO.length}/${answered(blockedO)}`);
  if (notReached.length) {
    const byQuestion = {};
    for (const b of [...blockedB, ...blockedO]) (byQuestion[`${b.question}: ${b.error ?? b.status}`] ??= new Set()).add(b.id);
    say(`never reached the router (no model call, $0 in both; counted in the totals as such): baseline ${blockedB.length}, optimized ${blockedO.length} cases`);
    for (const [k, ids] of Object.entries(byQuestion)) say(`  ${k} (${[...ids].join(', ')})`);
  }
  for (const [name, ws] of [['baseline', wrongB], ['optimized', wrongO]]) {
    for (const w of ws) say(`  MISMATCH ${name} ${w.id} (${w.status}${w.error ? `, ${w.error}` : ''}): ${JSON.stringify(w.output)?.slice(0, 160)}`);
  }
  say(`routing: ${misrouted.length === 0 ? 'every easy miss answered by the cheap model, every hard miss escalated' : `MISROUTED ${misrouted.join(', ')}`}`);
  say('');
  say('cache by case kind (optimized):');
  table(['kind', 'cases', 'exact', 'semantic', 'miss'], [
    ...Object.entries(byKind).sort().map(([k, v]) => [k, v.cases, v.exact, v.semantic, v.miss]),
    ['first-ask (all)', pairs.filter((p) => p.o.reached && has(p.c, 'first-ask')).length, firstAskHits.filter((p) => p.o.cache.kind === 'exact').length, firstAskHits.filter((p) => p.o.cache.kind === 'semantic').length, pairs.filter((p) => p.o.reached && has(p.c, 'first-ask') && !p.o.cache).length],
  ]);
  for (const [k, v] of Object.entries(byKind).sort()) if (v.details.length) say(`  ${k}: ${v.details.join(', ')}`);
  say(`per-user scoping: ${crossUser.length} first asks of a question another user had already asked (shared-question); ${crossUser.length - crossUserHits.length} correctly missed, ${crossUserHits.length} hit${crossUserHits.length ? ` (WRONG: ${crossUserHits.map((p) => p.c.id).join(', ')})` : ''}`);
  if (firstAskHits.length) say(`WRONG: first asks answered from the cache: ${firstAskHits.map((p) => `${p.c.id} ${outcome(p)}`).join(', ')}`);
  say(`bench wall time ${((performance.now() - benchStarted) / 1000).toFixed(1)} s (Keel start ${(startupMs / 1000).toFixed(1)} s)`);

  if (values.json) {
    const round = (x) => Math.round(x * 1e10) / 1e10;
    console.log(JSON.stringify({
      dataset: values.dataset, cases: cases.length, prices: PRICES, minConfidence: MIN_CONFIDENCE,
      baseline: { ...B, costUsd: round(B.costUsd) }, optimized: { ...O, costUsd: round(O.costUsd) },
      saved: { tokens: savedTok, inputTokens: B.inputTokens - O.inputTokens, outputTokens: B.outputTokens - O.outputTokens, costUsd: round(savedUsd), costPct: B.costUsd ? round((100 * savedUsd) / B.costUsd) : 0 },
      sources: src,
      correctness: {
        baseline: { answered: answered(blockedB), correct: answered(blockedB) - wrongB.length, mismatches: wrongB, notReached: blockedB },
        optimized: { answered: answered(blockedO), correct: answered(blockedO) - wrongO.length, mismatches: wrongO, notReached: blockedO },
      },
      misrouted,
      cacheByKind: Object.fromEntries(Object.entries(byKind).map(([k, v]) => [k, { cases: v.cases, exact: v.exact, semantic: v.semantic, miss: v.miss }])),
      crossUser: { cases: crossUser.length, missed: crossUser.length - crossUserHits.length, hits: crossUserHits.map((p) => p.c.id) },
      firstAskHits: firstAskHits.map((p) => p.c.id),
      usageRows: optimized.usageRows,
    }));
  }
} finally {
  await db?.end().catch(() => {});
  await keel?.stop();
  rmSync(dir, { recursive: true, force: true });
}
