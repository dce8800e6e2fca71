/**
 * Trains the injection / jailbreak classifier (`npm run guardrail:train`).
 *
 *   node apps/guardrail/dist/training/train-injection.js [--data <dir>] [--folds 5] [--seed 1] [--no-write]
 *        [--extra <file>]... [--extra none] [--threshold-rows base|all]
 *
 * Reads ONLY injection-train.jsonl (from --data, env KEEL_GUARDRAIL_DATA, or
 * <repo>/../shared/data/guardrail) plus supplementary training files (--extra, repeatable;
 * default: the committed apps/guardrail/data/short-chat.jsonl, short everyday chat and short
 * attacks written by data/generate-short-chat.mjs; `--extra none` trains on the file alone).
 * The test file is never opened here: every choice (hyper-parameters, thresholds) is made by
 * grouped k-fold cross-validation on the training rows, supplementary rows included (they are
 * trained on in the other folds and held out in their own; rows of one `template` share a fold).
 * Thresholds are chosen on the out-of-fold scores of the main file's rows only
 * (`--threshold-rows base`, the default): the FPR budget is a rate over real traffic-like data,
 * and counting generated rows would let the number of rows we chose to generate move it; the
 * supplement's own out-of-fold figures are reported separately.
 * Writes apps/guardrail/data/injection-model.json and apps/guardrail/data/injection-model.report.md.
 * Deterministic for a given seed and the same input files.
 *
 * Examples:
 * - `user` rows are one example each (the whole message).
 * - `tool_output` rows are split into sentences/lines (segments.ts), exactly as the screener
 *   scores them at runtime. The data only labels documents, so segment labels are derived:
 *   BIPIA-style injections reuse a small set of attack instructions across many contexts, so
 *   in an injected document the segments that never occur in a benign tool output and whose
 *   set of containing documents differs from that of the document's context segments are the
 *   planted instruction (positives); every other segment is negative.
 * - Optionally (on by default, chosen by CV) short user-channel injections are added as
 *   tool_output positives too: an instruction to the model planted in a document is an
 *   injection whatever its wording.
 *
 * The optimiser is plain SGD on the log loss with an exact L2 penalty (weight-scale trick),
 * class weights balancing each channel, a seeded shuffle per epoch and a 1/sqrt(epoch) step decay.
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { argValue, argValues, fpr as fprOf, prf, readJsonl, REPO_ROOT, resolveDataDir, sourceFamily, tally } from '../evaluation/dataset';
export { sourceFamily } from '../evaluation/dataset';
import type { Confusion, InjectionRow, Prf } from '../evaluation/dataset';
import { injectionProbability, quantiseWeights, scoreSegments, wordCount } from '../screening/injection.classifier';
import type { ChannelThresholds, InjectionModel, InjectionModelFile } from '../screening/injection.classifier';
import { FEATURE_BUCKETS, FEATURE_SPEC, featurise } from '../screening/injection.features';
import type { FeatureChannel } from '../screening/injection.features';
import { normalise } from '../screening/normalise';
import { splitSegments } from '../screening/segments';
import { analyse, ESCALATE_THRESHOLD } from '../screening/screener';

export interface HyperParams {
  epochs: number;
  /** Initial SGD step; epoch e uses lr / sqrt(1 + e). */
  lr: number;
  /** L2 penalty per example (lambda). */
  l2: number;
  /** Add user-channel injections of at most this many characters as tool_output positives (0 = off). */
  augmentToolFromUserChars: number;
  /** Add benign user requests of at most this many characters as tool_output positives (0 = off):
   * a question or task addressed to the model is out of place inside retrieved data. */
  augmentToolFromBenignChars: number;
  /** Leave out user attacks the rules already flag (score >= 0.5), so the classifier spends its
   * capacity on what the rules miss instead of re-learning "ignore ... instructions". */
  residualUser: boolean;
  /** Segments / texts with fewer letters+digits are neither trained on nor scored. */
  minWordChars: number;
}

export const DEFAULT_HYPER: HyperParams = { epochs: 8, lr: 1, l2: 1e-5, augmentToolFromUserChars: 0, augmentToolFromBenignChars: 0, residualUser: false, minWordChars: 8 };

/** The committed supplement (apps/guardrail/data/generate-short-chat.mjs), read unless --extra says otherwise. */
export const DEFAULT_EXTRA = path.join(REPO_ROOT, 'apps/guardrail/data/short-chat.jsonl');

/** Target false-positive rates on held-out folds. */
export const TARGET_FPR = { escalate: 0.03, block: 0.01 } as const;

// ---------------------------------------------------------------------------------------------
// Deterministic helpers

/** mulberry32: small seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], rand: () => number): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = xs[i];
    xs[i] = xs[j];
    xs[j] = t;
  }
}

class UnionFind {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(x: number): number {
    while (this.parent[x] !== x) {
      this.parent[x] = this.parent[this.parent[x]];
      x = this.parent[x];
    }
    return x;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

// ---------------------------------------------------------------------------------------------
// Data preparation

export interface Doc {
  row: InjectionRow;
  /** True for rows of a supplementary (--extra) file. */
  extra: boolean;
  attack: boolean;
  match: string;
  /** tool_output: segment texts (match view) and whether each is a planted instruction. */
  segments: { text: string; positive: boolean }[];
  /** Rule score (the existing regex rules, incl. decoded payloads). */
  ruleScore: number;
  group: number;
  fold: number;
  /** Injected tool outputs: the fold of the planted instruction's group; -1 otherwise. */
  attackFold: number;
}

const CODE_LIKE = /^(?:import|from|def|class|return|print|const|let|var|exec|subprocess|response|r|url|jar|sock|ftp)\b|[=;{}`]|\w\(|^[\][)(]|^"/;

/** Derives segment labels for tool_output documents (see the file comment). */
export function labelToolSegments(docs: Doc[]): void {
  const tool = docs.filter((d) => d.row.channel === 'tool_output');
  const segTexts = tool.map((d) => [...new Set(splitSegments(d.match).map((s) => d.match.slice(s.start, s.end)))]);
  const inBenign = new Set<string>();
  const docsOf = new Map<string, number[]>();
  tool.forEach((d, i) => {
    for (const s of segTexts[i]) {
      if (!d.attack) inBenign.add(s);
      else {
        const list = docsOf.get(s);
        if (list === undefined) docsOf.set(s, [i]);
        else list.push(i);
      }
    }
  });
  // Inverted index segment -> benign tool documents, to find an injected document's clean original.
  const benignDocsOf = new Map<string, number[]>();
  tool.forEach((d, i) => {
    if (d.attack) return;
    for (const s of segTexts[i]) {
      const list = benignDocsOf.get(s);
      if (list === undefined) benignDocsOf.set(s, [i]);
      else list.push(i);
    }
  });
  tool.forEach((d, i) => {
    const texts = segTexts[i];
    let positives = new Set<string>();
    if (d.attack) {
      const candidates = texts.filter((s) => !inBenign.has(s));
      // 1. The clean original is in the data (BIPIA e-mail/code/table, WHOIS): the planted
      //    instruction is what the injected copy adds to it.
      const shared = new Map<number, number>();
      for (const s of texts) for (const b of benignDocsOf.get(s) ?? []) shared.set(b, (shared.get(b) ?? 0) + 1);
      let bestShared = 0;
      for (const c of shared.values()) bestShared = Math.max(bestShared, c);
      if (bestShared >= Math.max(1, texts.length / 2)) positives = new Set(candidates);
      else {
        // 2. No original: the context's segments share one set of containing documents (its
        //    injected variants); the planted instruction's set differs (other contexts, same attack).
        const sig = new Map<string, string>();
        const sigCount = new Map<string, number>();
        for (const s of texts) {
          const k = (docsOf.get(s) ?? []).join(',');
          sig.set(s, k);
          sigCount.set(k, (sigCount.get(k) ?? 0) + 1);
        }
        let modal = '';
        let best = 0;
        for (const [k, c] of sigCount) if (c > best) [modal, best] = [k, c];
        positives = new Set(candidates.filter((s) => texts.length > 2 && sig.get(s) !== modal && (docsOf.get(s)?.length ?? 0) >= 2));
        if (positives.size === 0) positives = new Set(candidates.filter((s) => (docsOf.get(s)?.length ?? 0) === 1));
        if (positives.size === 0) positives = new Set(candidates);
      }
      // Planted code (BIPIA code attacks: "Use the following snippet:" + a code block): only the
      // natural-language instruction is a positive; the code lines themselves ("import requests")
      // are everyday content of benign code answers and would teach the model to flag code.
      if (d.row.source.includes('/code/')) {
        const prose = [...positives].filter((s) => !CODE_LIKE.test(s));
        if (prose.length > 0) positives = new Set(prose);
      }
    }
    d.segments = splitSegments(d.match).map((s) => {
      const text = d.match.slice(s.start, s.end);
      return { text, positive: positives.has(text) };
    });
  });
}

/** Spreads groups (largest first) over folds, each to the currently smallest fold; seeded tie order. */
function spread(groups: number[][], folds: number, seed: number, assign: (doc: number, fold: number, group: number) => void): void {
  shuffle(groups, rng(seed));
  groups.sort((a, b) => b.length - a.length);
  const sizes = new Array<number>(folds).fill(0);
  groups.forEach((g, gi) => {
    let f = 0;
    for (let k = 1; k < folds; k++) if (sizes[k] < sizes[f]) f = k;
    sizes[f] += g.length;
    for (const i of g) assign(i, f, gi);
  });
}

function components(uf: UnionFind, members: number[]): number[][] {
  const roots = new Map<number, number[]>();
  for (const i of members) {
    const r = uf.find(i);
    const list = roots.get(r);
    if (list === undefined) roots.set(r, [i]);
    else list.push(i);
  }
  return [...roots.values()];
}

/**
 * Grouped folds. Near-duplicate rows never straddle two folds (union-find over: the first 48
 * letters/digits of the match view; the multiset of numbers when a text has >= 3, which ties
 * MGSM/GSM8K translations together; tool-output context sentences of >= 24 chars shared by
 * <= 40 documents). Injected tool outputs are split two ways, like the test split (whose BIPIA
 * contexts AND attack instructions are both unseen): their context group gives `fold`, their
 * planted instruction's group gives `attackFold`. Such a document is held out in fold f only
 * when both are f, and trained on only when neither is (see crossValidate).
 */
export function assignFolds(docs: Doc[], folds: number, seed: number): void {
  const uf = new UnionFind(docs.length);
  const firstWithKey = new Map<string, number>();
  const link = (key: string, i: number): void => {
    const j = firstWithKey.get(key);
    if (j === undefined) firstWithKey.set(key, i);
    else uf.union(i, j);
  };
  // How many tool documents contain each segment: very common lines ("```", "best regards") must not link.
  const segDf = new Map<string, number>();
  for (const d of docs) if (d.row.channel === 'tool_output') for (const s of new Set(d.segments.map((x) => x.text))) segDf.set(s, (segDf.get(s) ?? 0) + 1);
  docs.forEach((d, i) => {
    if (d.row.channel === 'tool_output') {
      for (const s of new Set(d.segments.filter((x) => !x.positive).map((x) => x.text))) {
        if (s.length >= 24 && (segDf.get(s) ?? 0) <= 40) link(`s:${s}`, i);
      }
      return;
    }
    if (d.row.template !== undefined) link(`t:${d.row.template}`, i);
    const canon = d.match.replace(/[^\p{L}\p{N}]+/gu, '');
    if (canon.length >= 16) link(`c:${canon.slice(0, 48)}`, i);
    const numbers = d.match.match(/\d+(?:[.,]\d+)?/g) ?? [];
    if (numbers.length >= 3) link(`n:${[...numbers].sort().join(' ')}`, i);
  });
  // Groups holding a row of the main file are spread first, exactly as without a supplement (so adding
  // one does not reshuffle the main file's folds and CV figures stay comparable); groups made only of
  // supplementary rows are spread over the folds on their own.
  const comps = components(uf, docs.map((_, i) => i));
  const base = comps.filter((g) => g.some((i) => !docs[i].extra));
  const extra = comps.filter((g) => g.every((i) => docs[i].extra));
  spread(base, folds, seed ^ 0x51ed, (i, f, g) => {
    docs[i].fold = f;
    docs[i].group = g;
  });
  spread(extra, folds, seed ^ 0xe47a, (i, f, g) => {
    docs[i].fold = f;
    docs[i].group = base.length + g;
  });
  // Planted instructions: injected tool documents sharing a positive segment share an attack group.
  const injected = docs.flatMap((d, i) => (d.row.channel === 'tool_output' && d.attack ? [i] : []));
  const auf = new UnionFind(docs.length);
  const firstWithAttack = new Map<string, number>();
  for (const i of injected) {
    for (const s of docs[i].segments) {
      if (!s.positive) continue;
      const j = firstWithAttack.get(s.text);
      if (j === undefined) firstWithAttack.set(s.text, i);
      else auf.union(i, j);
    }
  }
  for (const d of docs) d.attackFold = -1;
  spread(components(auf, injected), folds, seed ^ 0xa77c, (i, f) => {
    docs[i].attackFold = f;
  });
}

/** Held out in fold f: see assignFolds. */
function heldOutIn(d: Doc, f: number): boolean {
  return d.fold === f && (d.attackFold < 0 || d.attackFold === f);
}

/** Trained on in fold f: neither its context nor its planted instruction is held out. */
function trainedIn(d: Doc, f: number): boolean {
  return d.fold !== f && (d.attackFold < 0 || d.attackFold !== f);
}

// ---------------------------------------------------------------------------------------------
// Model

export interface Example {
  indices: Uint32Array;
  value: number;
  y: 0 | 1;
  channel: FeatureChannel;
  weight: number;
}

export function examplesOf(docs: Doc[], hp: HyperParams): Example[] {
  const out: Example[] = [];
  const add = (text: string, channel: FeatureChannel, y: 0 | 1): void => {
    const f = featurise(text, channel);
    if (f.wordChars < hp.minWordChars) return;
    out.push({ indices: f.indices, value: f.value, y, channel, weight: 1 });
  };
  for (const d of docs) {
    if (d.row.channel === 'user') {
      if (!(hp.residualUser && d.attack && d.ruleScore >= ESCALATE_THRESHOLD)) add(d.match, 'user', d.attack ? 1 : 0);
      if (hp.augmentToolFromUserChars > 0 && d.row.label === 'injection' && d.match.length <= hp.augmentToolFromUserChars) add(d.match, 'tool_output', 1);
      if (hp.augmentToolFromBenignChars > 0 && !d.attack && d.match.length <= hp.augmentToolFromBenignChars) add(d.match, 'tool_output', 1);
    } else {
      for (const s of d.segments) add(s.text, 'tool_output', s.positive ? 1 : 0);
    }
  }
  // Balance classes within each channel.
  for (const ch of ['user', 'tool_output'] as const) {
    const xs = out.filter((e) => e.channel === ch);
    const pos = xs.filter((e) => e.y === 1).length;
    const neg = xs.length - pos;
    if (pos === 0 || neg === 0) continue;
    for (const e of xs) e.weight = e.y === 1 ? xs.length / (2 * pos) : xs.length / (2 * neg);
  }
  return out;
}

export interface TrainedModel {
  weights: Float64Array;
  bias: Record<FeatureChannel, number>;
}

/** SGD on the weighted log loss + (l2/2)·|w|²; w = scale·v so the L2 shrink is O(1) per step. */
export function trainLogReg(examples: readonly Example[], hp: HyperParams, seed: number): TrainedModel {
  const v = new Float64Array(FEATURE_BUCKETS);
  let scale = 1;
  const bias: Record<FeatureChannel, number> = { user: 0, tool_output: 0 };
  const order = examples.map((_, i) => i);
  const rand = rng(seed);
  for (let epoch = 0; epoch < hp.epochs; epoch++) {
    shuffle(order, rand);
    const lr = hp.lr / Math.sqrt(1 + epoch);
    for (const k of order) {
      const e = examples[k];
      let dot = 0;
      for (let j = 0; j < e.indices.length; j++) dot += v[e.indices[j]];
      const z = bias[e.channel] + scale * dot * e.value;
      const p = 1 / (1 + Math.exp(-z));
      const g = (p - e.y) * e.weight;
      scale *= 1 - lr * hp.l2;
      const step = (lr * g * e.value) / scale;
      for (let j = 0; j < e.indices.length; j++) v[e.indices[j]] -= step;
      bias[e.channel] -= lr * g * 0.1;
      if (scale < 1e-6) {
        for (let i = 0; i < v.length; i++) v[i] *= scale;
        scale = 1;
      }
    }
  }
  for (let i = 0; i < v.length; i++) v[i] *= scale;
  return { weights: v, bias };
}

/** The runtime view of a trained model: int8-quantised exactly as it will be stored. */
export function runtimeModel(m: TrainedModel, hp: HyperParams, thresholds?: Record<FeatureChannel, ChannelThresholds>): { model: InjectionModel; scale: number; bytes: Int8Array } {
  const { scale, bytes } = quantiseWeights(m.weights);
  const t = thresholds ?? { user: { escalate: 0.5, block: 0.5 }, tool_output: { escalate: 0.5, block: 0.5 } };
  return { model: { q: bytes, scale, bias: m.bias, thresholds: t, minWordChars: hp.minWordChars }, scale, bytes };
}

/** Document-level probability as the screener computes it: user whole, tool_output worst segment. */
export function docProbability(d: Doc, model: InjectionModel): number {
  if (d.row.channel === 'user') return injectionProbability(d.match, 'user', model);
  let best = 0;
  for (const s of scoreSegments(d.match, 'tool_output', model)) best = Math.max(best, s.p);
  return best;
}

// ---------------------------------------------------------------------------------------------
// Cross-validation and threshold choice

export interface Scored {
  doc: Doc;
  p: number;
  ruleFlag: boolean;
}

/**
 * Smallest probability threshold whose combined flag (rule ≥ 0.5 OR p ≥ t) keeps the benign
 * false-positive rate at or below `target`; the threshold sits halfway (in logit space) between
 * the last benign score allowed through and the first one that would exceed the budget.
 */
export function chooseThreshold(scored: readonly { p: number; ruleFlag: boolean; attack: boolean }[], target: number): number {
  const benign = scored.filter((s) => !s.attack);
  const ruleFp = benign.filter((s) => s.ruleFlag).length;
  const budget = Math.floor(target * benign.length) - ruleFp;
  const ps = benign.filter((s) => !s.ruleFlag).map((s) => s.p).sort((a, b) => b - a);
  const logit = (p: number): number => Math.log(Math.max(p, 1e-9) / Math.max(1 - p, 1e-9));
  const sig = (z: number): number => 1 / (1 + Math.exp(-z));
  if (budget <= 0) return Math.min(0.995, sig(logit(ps[0] ?? 0.5) + 0.05));
  if (budget >= ps.length) return 0.05;
  const above = ps[budget - 1];
  const below = ps[budget];
  const t = above === below ? Math.min(0.995, sig(logit(above) + 0.05)) : sig((logit(above) + logit(below)) / 2);
  return Math.min(0.995, Math.max(0.05, t));
}

export interface ChannelMetrics extends Confusion, Prf {
  n: number;
  attacks: number;
  benign: number;
  fpr: number;
  /** Recall per attack label. */
  recallByLabel: Record<string, number>;
  /** Recall and FPR of the rules alone, for comparison. */
  rulesOnly: { recall: number; fpr: number };
  /** Recall and FPR of the classifier alone at the threshold. */
  classifierOnly: { recall: number; fpr: number };
  /** Per source family: documents, flagged (combined), flagged by the classifier alone. */
  bySource: Record<string, { n: number; attacks: number; flagged: number; classifier: number }>;
}


function metricsAt(scored: readonly Scored[], t: number): ChannelMetrics {
  const c: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const byLabel = new Map<string, { hit: number; n: number }>();
  let rTp = 0;
  let rFp = 0;
  let cTp = 0;
  let cFp = 0;
  const bySource: ChannelMetrics['bySource'] = {};
  for (const s of scored) {
    const flagged = s.ruleFlag || s.p >= t;
    const attack = s.doc.attack;
    const fam = `${sourceFamily(s.doc.row.source)}/${attack ? 'attack' : 'benign'}`;
    const b = (bySource[fam] ??= { n: 0, attacks: 0, flagged: 0, classifier: 0 });
    b.n++;
    if (attack) b.attacks++;
    if (flagged) b.flagged++;
    if (s.p >= t) b.classifier++;
    tally(c, attack, flagged);
    if (attack) {
      const b = byLabel.get(s.doc.row.label) ?? { hit: 0, n: 0 };
      b.n++;
      if (flagged) b.hit++;
      byLabel.set(s.doc.row.label, b);
      if (s.ruleFlag) rTp++;
      if (s.p >= t) cTp++;
    } else {
      if (s.ruleFlag) rFp++;
      if (s.p >= t) cFp++;
    }
  }
  const { tp, fp, fn, tn } = c;
  const attacks = tp + fn;
  const benign = fp + tn;
  return {
    n: scored.length, attacks, benign, ...c,
    ...prf(tp, fp, fn),
    fpr: fprOf(fp, tn),
    recallByLabel: Object.fromEntries([...byLabel].map(([k, b]) => [k, b.hit / b.n])),
    rulesOnly: { recall: attacks === 0 ? 0 : rTp / attacks, fpr: benign === 0 ? 0 : rFp / benign },
    classifierOnly: { recall: attacks === 0 ? 0 : cTp / attacks, fpr: benign === 0 ? 0 : cFp / benign },
    bySource,
  };
}

export interface CvResult {
  hp: HyperParams;
  thresholds: Record<FeatureChannel, ChannelThresholds>;
  metrics: Record<FeatureChannel, ChannelMetrics>;
  blockMetrics: Record<FeatureChannel, ChannelMetrics>;
  /** Every held-out document with its out-of-fold probability (not written anywhere). */
  scored: Scored[];
  /** Out-of-fold figures on the supplementary user rows (at the user thresholds), null without a supplement. */
  supplementMetrics: { escalate: ChannelMetrics; block: ChannelMetrics } | null;
  /** User recall (rules or classifier) + tool_output recall of the classifier alone, at the escalate
   * thresholds: the selection criterion. The rules' tool_output recall on the training rows is
   * optimistic (they were written with these attack styles in view), so tool_output is judged on the
   * classifier's own generalisation to held-out attack instructions. */
  objective: number;
  seconds: number;
}

/** Supplementary (generated) rows: trained on and cross-validated, but not part of the threshold choice by default. */
export function isSupplement(d: Doc): boolean {
  return d.extra;
}

function crossValidate(docs: Doc[], hp: HyperParams, folds: number, seed: number, thresholdRows: 'base' | 'all'): CvResult {
  const started = Date.now();
  const scored: Scored[] = [];
  for (let f = 0; f < folds; f++) {
    const train = docs.filter((d) => trainedIn(d, f));
    const held = docs.filter((d) => heldOutIn(d, f));
    const { model } = runtimeModel(trainLogReg(examplesOf(train, hp), hp, seed + f), hp);
    for (const d of held) scored.push({ doc: d, p: docProbability(d, model), ruleFlag: d.ruleScore >= ESCALATE_THRESHOLD });
  }
  const thresholds = {} as Record<FeatureChannel, ChannelThresholds>;
  const metrics = {} as Record<FeatureChannel, ChannelMetrics>;
  const blockMetrics = {} as Record<FeatureChannel, ChannelMetrics>;
  const supplement = scored.filter((x) => isSupplement(x.doc) && x.doc.row.channel === 'user');
  for (const ch of ['user', 'tool_output'] as const) {
    const s = scored.filter((x) => x.doc.row.channel === ch && (thresholdRows === 'all' || !isSupplement(x.doc)));
    const flat = s.map((x) => ({ p: x.p, ruleFlag: x.ruleFlag, attack: x.doc.attack }));
    const escalate = chooseThreshold(flat, TARGET_FPR.escalate);
    const block = Math.max(escalate, chooseThreshold(flat, TARGET_FPR.block));
    thresholds[ch] = { escalate: round(escalate, 4), block: round(block, 4) };
    metrics[ch] = metricsAt(s, thresholds[ch].escalate);
    blockMetrics[ch] = metricsAt(s, thresholds[ch].block);
  }
  const supplementMetrics = supplement.length === 0 ? null : { escalate: metricsAt(supplement, thresholds.user.escalate), block: metricsAt(supplement, thresholds.user.block) };
  return { hp, thresholds, metrics, blockMetrics, scored, supplementMetrics, objective: metrics.user.recall + metrics.tool_output.classifierOnly.recall, seconds: (Date.now() - started) / 1000 };
}

/** Candidate word limits for the short-text rule (0 = no rule). */
export const SHORT_TEXT_CANDIDATES = [0, 4, 5, 6, 7, 8, 10, 12, 15] as const;

export interface ShortRuleCandidate {
  /** Messages with fewer words use `user`; 0 = no rule. */
  maxWords: number;
  user: ChannelThresholds;
  /** All user rows (main file + supplement), out-of-fold, at the escalate level. */
  recall: number;
  fpr: number;
  base: { recall: number; fpr: number };
  supplement: { recall: number; fpr: number };
  /** Youden's J = recall - FPR over all user rows: the selection criterion. */
  j: number;
  shortRows: number;
}

export interface ShortRuleChoice {
  candidates: ShortRuleCandidate[];
  chosen: ShortRuleCandidate;
}

/**
 * The short-text rule: user messages of fewer than N words get their own classifier thresholds, chosen
 * like the channel's (the smallest p keeping the out-of-fold benign FPR of "rules OR classifier" on
 * those messages <= 0.03 / 0.01), never below the channel's. Main-file and supplementary rows both count
 * here, since short everyday chat is almost only in the supplement. N is the candidate with the highest
 * Youden's J (recall - FPR) over all out-of-fold user rows, "no rule" included; ties go to the smaller N.
 */
export function chooseShortRule(scored: readonly Scored[], global: ChannelThresholds): ShortRuleChoice {
  const user = scored.filter((x) => x.doc.row.channel === 'user');
  const words = user.map((x) => wordCount(x.doc.match));
  const candidates: ShortRuleCandidate[] = [];
  for (const n of SHORT_TEXT_CANDIDATES) {
    const isShort = (i: number): boolean => n > 0 && words[i] < n;
    const flat = user.flatMap((x, i) => (isShort(i) ? [{ p: x.p, ruleFlag: x.ruleFlag, attack: x.doc.attack }] : []));
    const escalate = n === 0 || flat.length === 0 ? global.escalate : round(Math.max(global.escalate, chooseThreshold(flat, TARGET_FPR.escalate)), 4);
    const block = n === 0 || flat.length === 0 ? global.block : round(Math.max(escalate, global.block, chooseThreshold(flat, TARGET_FPR.block)), 4);
    const rates = (keep: (x: Scored) => boolean): { recall: number; fpr: number } => {
      let tp = 0;
      let att = 0;
      let fp = 0;
      let ben = 0;
      user.forEach((x, i) => {
        if (!keep(x)) return;
        const flagged = x.ruleFlag || x.p >= (isShort(i) ? escalate : global.escalate);
        if (x.doc.attack) {
          att++;
          if (flagged) tp++;
        } else {
          ben++;
          if (flagged) fp++;
        }
      });
      return { recall: att === 0 ? 0 : tp / att, fpr: ben === 0 ? 0 : fp / ben };
    };
    const all = rates(() => true);
    candidates.push({ maxWords: n, user: { escalate, block }, ...all, base: rates((x) => !x.doc.extra), supplement: rates((x) => x.doc.extra), j: all.recall - all.fpr, shortRows: flat.length });
  }
  const chosen = candidates.reduce((a, b) => (b.j > a.j + 1e-9 ? b : a));
  return { candidates, chosen };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Report

function pct(x: number): string {
  return x.toFixed(3);
}

function metricsTable(m: Record<FeatureChannel, ChannelMetrics>, t: Record<FeatureChannel, ChannelThresholds>, which: 'escalate' | 'block'): string {
  const lines = [
    '| channel | threshold p | docs (attack/benign) | precision | recall | F1 | FPR | recall injection | recall jailbreak | rules only R / FPR | classifier only R / FPR |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const ch of ['user', 'tool_output'] as const) {
    const x = m[ch];
    lines.push(`| ${ch} | ${t[ch][which]} | ${x.attacks}/${x.benign} | ${pct(x.precision)} | ${pct(x.recall)} | ${pct(x.f1)} | ${pct(x.fpr)} | ${x.recallByLabel.injection !== undefined ? pct(x.recallByLabel.injection) : '–'} | ${x.recallByLabel.jailbreak !== undefined ? pct(x.recallByLabel.jailbreak) : '–'} | ${pct(x.rulesOnly.recall)} / ${pct(x.rulesOnly.fpr)} | ${pct(x.classifierOnly.recall)} / ${pct(x.classifierOnly.fpr)} |`);
  }
  return lines.join('\n');
}

function sourceTable(m: Record<FeatureChannel, ChannelMetrics>): string {
  const lines = ['| channel | source / class | docs | flagged (rules or classifier) | classifier alone |', '|---|---|---|---|---|'];
  for (const ch of ['user', 'tool_output'] as const) {
    for (const [k, b] of Object.entries(m[ch].bySource).sort(([a], [b]) => (a < b ? -1 : 1))) {
      lines.push(`| ${ch} | ${k} | ${b.n} | ${b.flagged} (${pct(b.flagged / b.n)}) | ${b.classifier} (${pct(b.classifier / b.n)}) |`);
    }
  }
  return lines.join('\n');
}

interface ReportInput {
  shortRule: ShortRuleChoice;
  dataFile: string;
  extras: { file: string; rows: InjectionRow[]; sha256: string }[];
  thresholdRows: 'base' | 'all';
  docs: Doc[];
  examples: Example[];
  folds: number;
  seed: number;
  grid: CvResult[];
  chosen: CvResult;
  trainSeconds: number;
  totalSeconds: number;
  modelBytes: number;
  positivesPerInjectedDoc: Record<string, number>;
}

function hpDiff(hp: HyperParams): string {
  const diff = Object.entries(hp).filter(([k, v]) => DEFAULT_HYPER[k as keyof HyperParams] !== v);
  return diff.length === 0 ? 'defaults' : diff.map(([k, v]) => `${k}=${String(v)}`).join(', ');
}

function report(r: ReportInput): string {
  const count = (ch: string, label: string): number => r.docs.filter((d) => d.row.channel === ch && d.row.label === label).length;
  const ex = (ch: FeatureChannel, y: number): number => r.examples.filter((e) => e.channel === ch && e.y === y).length;
  const hp = r.chosen.hp;
  const foldSizes = Array.from({ length: r.folds }, (_, f) => r.docs.filter((d) => d.fold === f).length);
  const groups = new Set(r.docs.map((d) => d.group)).size;
  return `# Injection classifier — training report

Generated by \`npm run guardrail:train\` (apps/guardrail/src/training/train-injection.ts). Do not edit by hand.

Reproduce: \`npm run guardrail:train\` (or \`node tools/build-quiet.mjs && node apps/guardrail/dist/training/train-injection.js --data <dir> --seed ${r.seed} --folds ${r.folds}${r.extras.map((e) => ` --extra ${e.file}`).join('') || ' --extra none'}\`).

## Data (training files only)
\`${path.basename(r.dataFile)}\` — ${r.docs.filter((d) => !d.extra).length} rows${r.extras.map((e) => `; supplement \`${e.file}\` — ${e.rows.length} rows (sha256 ${e.sha256.slice(0, 16)}…)`).join('')}. The test file is never read by the training script; every choice below was made by cross-validation on these rows.

| channel | benign | injection | jailbreak |
|---|---|---|---|
| user | ${count('user', 'benign')} | ${count('user', 'injection')} | ${count('user', 'jailbreak')} |
| tool_output | ${count('tool_output', 'benign')} | ${count('tool_output', 'injection')} | ${count('tool_output', 'jailbreak')} |
${r.extras.length === 0 ? '' : `
Counts include the supplement: ${r.extras.map((e) => `${e.file}: ${(['benign', 'injection', 'jailbreak'] as const).map((l) => `${l} ${e.rows.filter((x) => x.label === l).length}`).join(', ')} (user channel; languages ${[...new Set(e.rows.map((x) => x.lang))].join(', ')})`).join('; ')}. Supplementary rows are cross-validated like the others (held out in their fold, trained on in the rest; all rows of one template share a fold). Thresholds are chosen on the out-of-fold scores of ${r.thresholdRows === 'base' ? `the main file's rows only, so the number of generated rows cannot move the FPR budget; the figures below are for those rows, and the supplement's own out-of-fold figures are listed separately` : 'all rows, supplement included'}.
`}
Training examples (final model): user ${ex('user', 1)} attack / ${ex('user', 0)} benign messages; tool_output ${ex('tool_output', 1)} positive / ${ex('tool_output', 0)} negative segments (sentences/lines with ≥ ${hp.minWordChars} letters/digits; ${hp.augmentToolFromUserChars > 0 ? `positives include user-channel injections of ≤ ${hp.augmentToolFromUserChars} chars` : 'no user-channel augmentation'}). Derived positive segments per injected tool document: ${Object.entries(r.positivesPerInjectedDoc).map(([k, v]) => `${k}: ${v}`).join(', ')}.

## Model
- Features: ${JSON.stringify(FEATURE_SPEC)} — character 2–5-grams inside space-padded words and word uni/bigrams of the \`match\` view, each hashed into a shared and a channel-salted bucket; binary, L2-normalised.
- Defaults: \`${JSON.stringify(DEFAULT_HYPER)}\`.
- Logistic regression, one bias per channel. SGD, ${hp.epochs} epochs, lr ${hp.lr}/sqrt(1+epoch), L2 λ=${hp.l2}, class weights balancing each channel, seed ${r.seed}.
- Stored as int8 × scale (base64): ${(r.modelBytes / 1024).toFixed(0)} KiB. Cross-validation scores use the quantised weights, through the same runtime functions the screener calls.

## Cross-validation (${r.folds} folds, grouped)
Rows are grouped before splitting (union-find over: the first 48 letters/digits of the match view; the multiset of numbers when a text has ≥ 3 — MGSM/GSM8K translations; tool-output sentences of ≥ 24 chars shared by ≤ 40 documents — the same context or the same planted instruction), so a held-out fold sees unseen attack instructions, as the test split does. ${groups} groups; fold sizes ${foldSizes.join(', ')}.

A document is flagged when the rules score ≥ 0.5 OR the classifier probability ≥ the threshold (user: the message; tool_output: any segment). Thresholds are the smallest probabilities keeping the pooled out-of-fold benign false-positive rate ≤ ${TARGET_FPR.escalate} (escalate / remove) and ≤ ${TARGET_FPR.block} (block), which leaves margin below the issue's 0.05 target on unseen data.

Hyper-parameter candidates (selection criterion: user recall + tool_output recall of the classifier alone, at the escalate thresholds — the rules' tool_output recall on training rows is optimistic):

| candidate (changes from the defaults) | user R | user FPR | tool R | tool FPR | tool classifier-only R | objective | seconds |
|---|---|---|---|---|---|---|---|
${r.grid.map((g) => `| ${hpDiff(g.hp)} | ${pct(g.metrics.user.recall)} | ${pct(g.metrics.user.fpr)} | ${pct(g.metrics.tool_output.recall)} | ${pct(g.metrics.tool_output.fpr)} | ${pct(g.metrics.tool_output.classifierOnly.recall)} | ${pct(g.objective)} | ${g.seconds.toFixed(1)} |${g === r.chosen ? ' ← chosen' : ''}`).join('\n')}

Chosen configuration, out-of-fold, at the **escalate** thresholds (user: escalate/block; tool_output: instruction removed):

${metricsTable(r.chosen.metrics, r.chosen.thresholds, 'escalate')}

By source (escalate thresholds; for benign rows "flagged" is a false positive):

${sourceTable(r.chosen.metrics)}

At the **block** thresholds:

${metricsTable(r.chosen.blockMetrics, r.chosen.thresholds, 'block')}
${r.chosen.supplementMetrics === null ? '' : `
Supplement (generated short chat and short attacks, user channel), out-of-fold at the user thresholds — held-out templates, so this measures transfer to unseen phrasings of the same intents:

| threshold | docs (attack/benign) | recall | FPR | rules only R / FPR | classifier only R / FPR |
|---|---|---|---|---|---|
${(['escalate', 'block'] as const).map((w) => { const m = r.chosen.supplementMetrics![w]; return `| ${w} p ≥ ${r.chosen.thresholds.user[w]} | ${m.attacks}/${m.benign} | ${pct(m.recall)} | ${pct(m.fpr)} | ${pct(m.rulesOnly.recall)} / ${pct(m.rulesOnly.fpr)} | ${pct(m.classifierOnly.recall)} / ${pct(m.classifierOnly.fpr)} |`; }).join('\n')}
`}
## Alternatives measured during development (same grouped CV; not re-run here)
- Channel handling: shared + channel-salted copies (kept) vs separate weight sets per channel (salted copy only) vs shared copy only: user recall 0.925 / 0.930 / 0.831 and tool_output classifier-only recall 0.78 / 0.73 / 0.75 at the same FPR budgets — the shared copy is what carries attack vocabulary from user messages to tool output.
- Benign user requests (≤ 150–300 chars) as extra tool_output positives ("a question inside a document is an injected task"): tool_output classifier-only recall fell to 0.35–0.40 (benign e-mails and answers are full of questions), user recall to 0.90. Rejected.
- Training the user model only on attacks the rules miss ("residual"): user recall 0.921 vs 0.926. Rejected.
- Character n-grams 2–4: user 0.919, tool 0.745; 2–6: no gain over 2–5. 2^20 buckets: no gain over 2^18. normFloor 1 / 100 / 300 / 1000: 0.925 / 0.926 / 0.921 / 0.906 (user recall).
- Rules and classifier are combined by max (flagged if either is), which CV shows above as "rules only" / "classifier only" / combined. Rule hits as extra classifier features were not tried.

## Thresholds (probability → score)
| channel | escalate p (→ score 0.5) | block p (→ score 0.8) |
|---|---|---|
| user | ${r.chosen.thresholds.user.escalate} | ${r.chosen.thresholds.user.block} |
| tool_output | ${r.chosen.thresholds.tool_output.escalate} | ${r.chosen.thresholds.tool_output.block} |

## Short-text rule
User messages of fewer than N words (Unicode word segmentation of the match view) may get stricter classifier thresholds; the rules are unaffected. For each candidate N the short messages' thresholds are chosen on their own out-of-fold scores (main file and supplement rows; benign FPR ≤ ${TARGET_FPR.escalate} / ${TARGET_FPR.block}, never below the channel thresholds), and N is the candidate with the highest Youden's J (recall − FPR) over all out-of-fold user rows, "no rule" included.

| N (words <) | short rows | escalate / block p | user R | user FPR | main file R / FPR | supplement R / FPR | J |
|---|---|---|---|---|---|---|---|
${r.shortRule.candidates.map((c) => `| ${c.maxWords === 0 ? 'no rule' : c.maxWords} | ${c.shortRows} | ${c.user.escalate} / ${c.user.block} | ${pct(c.recall)} | ${pct(c.fpr)} | ${pct(c.base.recall)} / ${pct(c.base.fpr)} | ${pct(c.supplement.recall)} / ${pct(c.supplement.fpr)} | ${c.j.toFixed(4)} |${c === r.shortRule.chosen ? ' ← chosen' : ''}`).join('\n')}

## Time
Final model training ${r.trainSeconds.toFixed(1)} s; whole run (normalisation, rules, cross-validation, final fit) ${r.totalSeconds.toFixed(1)} s on ${process.arch}, Node ${process.version}.
`;
}

// ---------------------------------------------------------------------------------------------
// Main

export function main(argv: string[]): void {
  const started = Date.now();
  const dataDir = resolveDataDir(argv);
  const dataFile = path.join(dataDir, 'injection-train.jsonl');
  if (!fs.existsSync(dataFile)) throw new Error(`training file not found: ${dataFile}`);
  const folds = Number(argValue(argv, 'folds') ?? 5);
  const seed = Number(argValue(argv, 'seed') ?? 1);
  const write = !argv.includes('--no-write');
  const outDir = path.resolve(argValue(argv, 'out') ?? path.join(REPO_ROOT, 'apps/guardrail/data'));
  const quick = argv.includes('--quick');

  const baseRows = readJsonl<InjectionRow>(dataFile);
  const extraArgs = argValues(argv, 'extra');
  const extraFiles = extraArgs.includes('none') ? [] : (extraArgs.length > 0 ? extraArgs : [DEFAULT_EXTRA]).map((f) => path.resolve(f));
  const extras = extraFiles.map((file) => {
    const rows = readJsonl<InjectionRow>(file);
    for (const [i, r] of rows.entries()) {
      if (typeof r.text !== 'string' || !['benign', 'injection', 'jailbreak'].includes(r.label) || !['user', 'tool_output'].includes(r.channel)) throw new Error(`${file}:${i + 1}: not an injection training row`);
    }
    const sha256 = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    return { file, rows, sha256 };
  });
  const thresholdRows = (argValue(argv, 'threshold-rows') ?? 'base') as 'base' | 'all';
  if (thresholdRows !== 'base' && thresholdRows !== 'all') throw new Error('--threshold-rows must be base or all');
  const rows = [...baseRows, ...extras.flatMap((e) => e.rows)];
  const log = (msg: string): void => {
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}\n`);
  };
  log(`${baseRows.length} training rows from ${dataFile}${extras.map((e) => ` + ${e.rows.length} from ${path.relative(REPO_ROOT, e.file)}`).join('')}`);
  const docs: Doc[] = rows.map((row, i) => ({
    row,
    extra: i >= baseRows.length,
    attack: row.label !== 'benign',
    match: normalise(row.text).match.text,
    segments: [],
    ruleScore: analyse(row.text, row.channel, { classifier: false }).injectionScore,
    group: 0,
    fold: 0,
    attackFold: -1,
  }));
  labelToolSegments(docs);
  assignFolds(docs, folds, seed);
  const positivesPerInjectedDoc: Record<string, number> = {};
  for (const d of docs) {
    if (d.row.channel !== 'tool_output' || !d.attack) continue;
    const n = d.segments.filter((s) => s.positive).length;
    const k = n >= 4 ? '4+' : String(n);
    positivesPerInjectedDoc[k] = (positivesPerInjectedDoc[k] ?? 0) + 1;
  }
  log('normalised, rule-scored, segment labels derived, folds assigned');

  const hpArg = argValue(argv, 'hp');
  const candidates: HyperParams[] = hpArg !== undefined
    ? hpArg.split(';').map((j) => ({ ...DEFAULT_HYPER, ...(JSON.parse(j) as Partial<HyperParams>) }))
    : quick
    ? [DEFAULT_HYPER]
    : [
      DEFAULT_HYPER,
      { ...DEFAULT_HYPER, l2: 1e-6 },
      { ...DEFAULT_HYPER, l2: 1e-4 },
      { ...DEFAULT_HYPER, epochs: 15 },
      { ...DEFAULT_HYPER, augmentToolFromUserChars: 400 },
    ];
  const grid: CvResult[] = [];
  for (const hp of candidates) {
    const r = crossValidate(docs, hp, folds, seed, thresholdRows);
    grid.push(r);
    const sup = r.supplementMetrics === null ? '' : ` | supplement R ${pct(r.supplementMetrics.escalate.recall)} FPR ${pct(r.supplementMetrics.escalate.fpr)}`;
    log(`CV ${JSON.stringify(hp)}: user R ${pct(r.metrics.user.recall)} FPR ${pct(r.metrics.user.fpr)} | tool R ${pct(r.metrics.tool_output.recall)} FPR ${pct(r.metrics.tool_output.fpr)} clf-only R ${pct(r.metrics.tool_output.classifierOnly.recall)} FPR ${pct(r.metrics.tool_output.classifierOnly.fpr)}${sup} | thresholds ${JSON.stringify(r.thresholds)}`);
  }
  const chosen = grid.reduce((a, b) => (b.objective > a.objective + 1e-9 ? b : a));
  const shortRule = chooseShortRule(chosen.scored, chosen.thresholds.user);
  for (const c of shortRule.candidates) log(`short-text rule ${c.maxWords === 0 ? 'none' : `< ${c.maxWords} words: p >= ${c.user.escalate} / ${c.user.block}`}: user R ${pct(c.recall)} FPR ${pct(c.fpr)} (main file R ${pct(c.base.recall)} FPR ${pct(c.base.fpr)}; supplement R ${pct(c.supplement.recall)} FPR ${pct(c.supplement.fpr)}) J ${c.j.toFixed(4)}${c === shortRule.chosen ? ' <- chosen' : ''}`);



  const trainStarted = Date.now();
  const examples = examplesOf(docs, chosen.hp);
  const trained = trainLogReg(examples, chosen.hp, seed);
  const trainSeconds = (Date.now() - trainStarted) / 1000;
  const { scale, bytes } = runtimeModel(trained, chosen.hp, chosen.thresholds);
  const file: InjectionModelFile = {
    format: 'keel-injection-logreg',
    features: FEATURE_SPEC,
    bias: { user: round(trained.bias.user, 6), tool_output: round(trained.bias.tool_output, 6) },
    quantisation: { type: 'int8', scale },
    weights: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    thresholds: chosen.thresholds,
    minWordChars: chosen.hp.minWordChars,
    ...(shortRule.chosen.maxWords === 0 ? {} : { shortText: { maxWords: shortRule.chosen.maxWords, user: shortRule.chosen.user } }),
    trained: {
      data: path.basename(dataFile),
      rows: baseRows.length,
      extra: extras.map((e) => ({ file: path.relative(REPO_ROOT, e.file), rows: e.rows.length, sha256: e.sha256 })),
      thresholdRows,
      hyperParams: chosen.hp,
      seed,
      folds,
      targetFpr: TARGET_FPR,
      cv: {
        user: { precision: round(chosen.metrics.user.precision, 4), recall: round(chosen.metrics.user.recall, 4), fpr: round(chosen.metrics.user.fpr, 4) },
        tool_output: { precision: round(chosen.metrics.tool_output.precision, 4), recall: round(chosen.metrics.tool_output.recall, 4), fpr: round(chosen.metrics.tool_output.fpr, 4) },
      },
    },
  };
  const json = `${JSON.stringify(file)}\n`;
  log(`final model trained in ${trainSeconds.toFixed(1)} s (${examples.length} examples); model file ${(json.length / 1024).toFixed(0)} KiB`);
  const md = report({ shortRule, dataFile, extras: extras.map((e) => ({ file: path.relative(REPO_ROOT, e.file), rows: e.rows, sha256: e.sha256 })), thresholdRows, docs, examples, folds, seed, grid, chosen, trainSeconds, totalSeconds: (Date.now() - started) / 1000, modelBytes: json.length, positivesPerInjectedDoc });
  if (write) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'injection-model.json'), json);
    fs.writeFileSync(path.join(outDir, 'injection-model.report.md'), md);
    log(`wrote ${path.join(outDir, 'injection-model.json')} and injection-model.report.md`);
  } else {
    process.stdout.write(md);
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`train-injection: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
