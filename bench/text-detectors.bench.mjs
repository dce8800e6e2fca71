// Per-call cost of the text functions that sit on every request's path, on
// synthetic inputs (printed, never asserted; the guardrail's own latency on
// 4 KB test texts is `npm run guardrail:eval -- --sections latency`):
//   - screen() on 1 KB of prose, user and tool_output channels;
//   - detectSecrets() on a dense 4 KB text (a key name every few characters);
//   - localEmbed() (memory and the semantic cache's local embedding) on 1 KB.
// Build first (node tools/build-quiet.mjs); then: node bench/text-detectors.bench.mjs [--json]
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { screen } = require('../apps/guardrail/dist/screening/screener.js');
const { detectSecrets } = require('../apps/guardrail/dist/screening/secrets.detector.js');
const { localEmbed } = require('../libs/text/dist/index.js');

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false } } });

// A fixed pseudo-random alphabet string (mulberry32), so every run sees the same inputs.
let seed = 7;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const token = (n) => Array.from({ length: n }, () => ALPHA[Math.floor(rand() * ALPHA.length)]).join('');

const prose = 'The quarterly numbers look fine; please summarise the attached table for the board. '.repeat(13).slice(0, 1024);
let dense = '';
while (dense.length < 4096) dense += `api_key = "${token(24)}" token=abc password: y key ${token(40)} https://u:p@h/x `;
dense = dense.slice(0, 4096);
const words = 'the quick brown fox jumps over a lazy dog while engineers write careful code about caching and latency'.split(' ');
let embedText = '';
for (let i = 0; embedText.length < 1024; i++) embedText += `${words[(i * 7) % words.length]} `;
embedText = embedText.slice(0, 1024);

/** Median and best of 9 batches of `n` calls, in ms per call, after a warm-up. */
function measure(fn, n) {
  for (let i = 0; i < n; i++) fn();
  const perCall = [];
  for (let b = 0; b < 9; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    perCall.push(Number(process.hrtime.bigint() - t0) / 1e6 / n);
  }
  perCall.sort((a, b) => a - b);
  return { medianMs: perCall[4], bestMs: perCall[0] };
}

const rows = [
  ['screen() 1 KB prose, user', measure(() => screen({ text: prose, channel: 'user' }), 300)],
  ['screen() 1 KB prose, tool_output', measure(() => screen({ text: prose, channel: 'tool_output' }), 300)],
  ['detectSecrets() 4 KB dense', measure(() => detectSecrets(dense), 100)],
  ['localEmbed() 1 KB', measure(() => localEmbed(embedText), 500)],
];

if (values.json) {
  console.log(JSON.stringify(Object.fromEntries(rows)));
} else {
  console.log(`text detectors on ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('function                              median ms/call  best ms/call');
  for (const [name, r] of rows) console.log(`${name.padEnd(38)}${r.medianMs.toFixed(4).padStart(14)}${r.bestMs.toFixed(4).padStart(14)}`);
}
