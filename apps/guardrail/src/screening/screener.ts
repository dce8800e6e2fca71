/**
 * The screening engine: normalise, detect (injection rules, the injection classifier,
 * secrets, PII, and the same again inside decoded payloads), then apply the per-channel
 * verdict policy and redact the ORIGINAL text.
 *
 * Injection score = max(rule score, classifier score). Both live on one scale: the rules'
 * weights were written for it, and the classifier's probability is mapped onto it so that its
 * cross-validated thresholds land on ESCALATE_THRESHOLD and BLOCK_THRESHOLD
 * (injection.classifier.ts). The max keeps the rules' precision on known phrasings and adds
 * the classifier's recall on paraphrases, other languages and unseen attacks.
 */

import type { ScreenChannel, ScreenRequest, ScreenResponse, Verdict } from '@keel/contracts';
import { findEncodedSegments } from './decode';
import { buildGateIndex } from './gate.scan';
import { injectionModel, injectionProbability, probabilityToScore, scoreSegments, userThresholds } from './injection.classifier';
import type { ChannelThresholds } from './injection.classifier';
import { HAS_CJK, HAS_CYRILLIC, INJECTION_RULES } from './injection.rules';
import type { InjectionCategory, InjectionRule } from './injection.rules';
import { normalise, toOriginalSpan } from './normalise';
import type { TextView } from './normalise';
import { detectPii } from './pii.detector';
import { detectSecrets } from './secrets.detector';
import { TextBreaks } from './segments';

/** `user`: an injection score at or above this blocks the message. */
export const BLOCK_THRESHOLD = 0.8;
/** `user`: a score in [ESCALATE_THRESHOLD, BLOCK_THRESHOLD) goes to a human. Also the level at which
 * injection categories are reported and, on `tool_output`, instruction-like sentences are removed. */
export const ESCALATE_THRESHOLD = 0.5;
/** Scores reported for pattern detections (they are checksum/prefix exact, so near-certain). */
export const SECRET_SCORE = 1;
export const PII_SCORE = 0.3;
/** Sensitive identifiers (ARNs, account ids, bucket hosts, OAuth client ids, usernames) grant nothing by themselves. */
export const IDENTIFIER_SCORE = 0.2;
/** Decoded payloads are screened recursively up to this depth (base64 inside base64). */
export const MAX_DECODE_DEPTH = 2;

export const INSTRUCTION_PLACEHOLDER = '[removed: instruction-like text]';

export interface InjectionHit {
  ruleId: string;
  category: InjectionCategory;
  weight: number;
  /** Span in the original text. */
  start: number;
  end: number;
  /** True when the hit was found inside a decoded payload (span = the encoded segment). */
  encoded: boolean;
}

export interface SpanDetection {
  /** `secret`: a credential (always redacted); `identifier`: a sensitive name (redacted on request); `pii`. */
  category: 'secret' | 'identifier' | 'pii';
  type: string;
  start: number;
  end: number;
  encoded: boolean;
}

/** A classifier finding: the whole user message, or one tool-output sentence/line. */
export interface ClassifierHit {
  /** Span in the original text (for `user`, the whole text). */
  start: number;
  end: number;
  /** Model probability. */
  p: number;
  /** `p` on the screener's score scale (see probabilityToScore). */
  score: number;
  /** True when found inside a decoded payload (span = the encoded segment). */
  encoded: boolean;
  /** The probability thresholds `score` was mapped with (user: the short-text ones for a short message). */
  thresholds: ChannelThresholds;
}

export interface Analysis {
  injection: InjectionHit[];
  detections: SpanDetection[];
  /** Sum of distinct rule weights, clipped to 0..1. */
  injectionScore: number;
  /** Classifier findings (empty for `output` or when the classifier is off); tool_output lists every scored segment. */
  classifier: ClassifierHit[];
  /** Highest classifier score, 0 if none. */
  classifierScore: number;
}

export interface AnalyseOptions {
  /** Run the injection classifier (default true). The training script turns it off to get rule scores alone. */
  classifier?: boolean;
  /** Decoding depth of this call (internal). */
  depth?: number;
}

function rulesFor(channel: ScreenChannel, cjk: boolean, cyr: boolean): InjectionRule[] {
  return INJECTION_RULES.filter((r) => {
    if (!r.channels.includes(channel)) return false;
    if (r.lang === 'zh' || r.lang === 'ja') return cjk;
    if (r.lang === 'ru') return cyr;
    return true;
  });
}

const GATES = buildGateIndex(INJECTION_RULES.flatMap((r) => (r.gate === undefined ? [] : [r.gate])));

interface RuleSet {
  rules: InjectionRule[];
  /** Per rule, the ids of its gates in GATES; `null` = ungated, always runs. */
  gateIds: (Uint16Array | null)[];
}

// Rule lists per channel and script mix, computed once.
const ruleCache = new Map<string, RuleSet>();
function cachedRules(channel: ScreenChannel, text: string): RuleSet {
  const cjk = HAS_CJK.test(text);
  const cyr = HAS_CYRILLIC.test(text);
  const key = `${channel}:${cjk ? 1 : 0}${cyr ? 1 : 0}`;
  let set = ruleCache.get(key);
  if (set === undefined) {
    const rules = rulesFor(channel, cjk, cyr);
    set = { rules, gateIds: rules.map((r) => (r.gate === undefined ? null : GATES.idsOf(r.gate))) };
    ruleCache.set(key, set);
  }
  return set;
}

function anyFound(ids: Uint16Array, found: Uint8Array): boolean {
  for (const id of ids) if (found[id] === 1) return true;
  return false;
}

function scanInjection(view: TextView, channel: ScreenChannel, allSpans: boolean): InjectionHit[] {
  const hits: InjectionHit[] = [];
  const text = view.text;
  const { rules, gateIds } = cachedRules(channel, text);
  // One pass finds every gate string in the text; a rule runs only if one of its gates is present.
  const found = GATES.scan(text);
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    const ids = gateIds[i];
    if (ids !== null && !anyFound(ids, found)) continue;
    const re = rule.pattern;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const span = toOriginalSpan(view, m.index, m.index + m[0].length);
      hits.push({ ruleId: rule.id, category: rule.category, weight: rule.weight, start: span.start, end: span.end, encoded: false });
      // For a user verdict the first hit per rule is enough; redaction needs all of them.
      if (!allSpans) break;
    }
  }
  return hits;
}

/** Sum of weights over distinct rules; rules of different languages matching the very same span
 * (e.g. "system prompt" in the English and German lists) count once, with the larger weight. */
export function injectionScore(hits: readonly InjectionHit[]): number {
  const byRule = new Map<string, InjectionHit>();
  for (const h of hits) if (!byRule.has(h.ruleId)) byRule.set(h.ruleId, h);
  const bySpan = new Map<string, number>();
  for (const h of byRule.values()) {
    const key = h.encoded ? `${h.ruleId}@${h.start}` : `${h.start}:${h.end}`;
    bySpan.set(key, Math.max(bySpan.get(key) ?? 0, h.weight));
  }
  let sum = 0;
  for (const w of bySpan.values()) sum += w;
  return Math.min(1, Math.max(0, sum));
}

/** Runs the classifier over a normalised text: user messages whole, tool output per sentence/line. */
function classify(view: TextView, channel: 'user' | 'tool_output'): ClassifierHit[] {
  const model = injectionModel();
  if (channel === 'user') {
    const p = injectionProbability(view.text, 'user', model);
    if (p === 0) return [];
    const t = userThresholds(view.text, model);
    const span = toOriginalSpan(view, 0, view.text.length);
    return [{ start: span.start, end: span.end, p, score: probabilityToScore(p, t, ESCALATE_THRESHOLD, BLOCK_THRESHOLD), encoded: false, thresholds: t }];
  }
  const t = model.thresholds[channel];
  const segs = scoreSegments(view.text, 'tool_output', model);
  const hits: ClassifierHit[] = new Array<ClassifierHit>(segs.length);
  const { starts, ends } = view;
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k];
    // Segments are never empty, so their last unit is end - 1 (toOriginalSpan, inlined).
    hits[k] = {
      start: starts === null ? s.start : starts[s.start],
      end: ends === null ? s.end : ends[s.end - 1],
      p: s.p,
      score: probabilityToScore(s.p, t, ESCALATE_THRESHOLD, BLOCK_THRESHOLD),
      encoded: false,
      thresholds: t,
    };
  }
  return hits;
}

/** Runs every detector over `text` (and decoded payloads inside it); spans refer to `text`. */
export function analyse(text: string, channel: ScreenChannel, opts: AnalyseOptions = {}): Analysis {
  const depth = opts.depth ?? 0;
  const n = normalise(text);
  const injection = channel === 'output' ? [] : scanInjection(n.match, channel, channel === 'tool_output');
  const classifier = channel === 'output' || opts.classifier === false ? [] : classify(n.match, channel);
  const detections: SpanDetection[] = [];
  for (const s of detectSecrets(n.clean.text)) {
    const span = toOriginalSpan(n.clean, s.start, s.end);
    detections.push({ category: s.kind === 'identifier' ? 'identifier' : 'secret', type: s.type, ...span, encoded: false });
  }
  for (const p of detectPii(n.clean.text)) {
    const span = toOriginalSpan(n.clean, p.start, p.end);
    // A secret already covers this text (e.g. digits inside a token). Identifiers do not hide PII.
    if (detections.some((d) => d.category === 'secret' && span.start < d.end && span.end > d.start)) continue;
    detections.push({ category: 'pii', type: p.type, ...span, encoded: false });
  }
  if (depth < MAX_DECODE_DEPTH) {
    for (const seg of findEncodedSegments(n.clean.text)) {
      const inner = analyse(seg.decoded, channel, { ...opts, depth: depth + 1 });
      if (inner.injection.length === 0 && inner.detections.length === 0 && inner.classifier.length === 0) continue;
      // Findings inside a payload map to the whole encoded segment: it cannot be cut partially.
      const span = toOriginalSpan(n.clean, seg.start, seg.end);
      for (const h of inner.injection) injection.push({ ...h, ...span, encoded: true });
      for (const d of inner.detections) detections.push({ ...d, ...span, encoded: true });
      const worst = inner.classifier.reduce<ClassifierHit | null>((a, h) => (a === null || h.p > a.p ? h : a), null);
      if (worst !== null) classifier.push({ ...worst, ...span, encoded: true });
    }
  }
  let classifierScore = 0;
  for (const h of classifier) classifierScore = Math.max(classifierScore, h.score);
  return { injection, detections, injectionScore: injectionScore(injection), classifier, classifierScore };
}

interface Cut {
  start: number;
  end: number;
  label: string;
}

/** Applies non-overlapping cuts to `text`; overlapping cuts merge and keep the longest one's label. */
export function applyCuts(text: string, cuts: readonly Cut[]): string {
  if (cuts.length === 0) return text;
  const sorted = [...cuts].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Cut[] = [];
  for (const c of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && c.start < last.end) {
      const keepLabel = c.end - c.start > last.end - last.start ? c.label : last.label;
      last.end = Math.max(last.end, c.end);
      last.label = keepLabel;
    } else {
      merged.push({ ...c });
    }
  }
  let out = '';
  let pos = 0;
  for (const c of merged) {
    out += text.slice(pos, c.start) + c.label;
    pos = c.end;
  }
  return out + text.slice(pos);
}

function uniq(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Screens one text for one channel. Pure and synchronous. */
export function screen(req: ScreenRequest): ScreenResponse {
  const { text, channel } = req;
  const blockAt = req.thresholds?.block ?? BLOCK_THRESHOLD;
  const escalateAt = req.thresholds?.escalate ?? ESCALATE_THRESHOLD;
  const a = analyse(text, channel);
  const ruleScore = channel === 'output' ? 0 : a.injectionScore;
  const clfScore = channel === 'output' ? 0 : a.classifierScore;
  const injScore = Math.max(ruleScore, clfScore);
  const injFlagged = injScore >= escalateAt;
  const secrets = a.detections.filter((d) => d.category === 'secret');
  const identifiers = a.detections.filter((d) => d.category === 'identifier');
  const pii = a.detections.filter((d) => d.category === 'pii');

  const ruleCategories = uniq(a.injection.map((h) => h.category)).sort();
  const categories: string[] = [];
  if (injFlagged) {
    // The classifier does not tell injection from jailbreak: on its own it reports prompt_injection.
    categories.push(...uniq([...ruleCategories, ...(clfScore >= escalateAt ? ['prompt_injection'] : [])]).sort());
  }
  if (secrets.length > 0) categories.push('secret', ...uniq(secrets.map((s) => `secret:${s.type}`)).sort());
  if (identifiers.length > 0) categories.push('identifier', ...uniq(identifiers.map((s) => `identifier:${s.type}`)).sort());
  if (pii.length > 0) categories.push('pii', ...uniq(pii.map((p) => `pii:${p.type}`)).sort());

  const cuts: Cut[] = secrets.map((s) => ({ start: s.start, end: s.end, label: `[REDACTED:${s.type}]` }));
  // Identifiers are reported; they are cut only when the request asks (an agent's guardrail.redactIdentifiers).
  if (req.redactIdentifiers === true) {
    for (const s of identifiers) cuts.push({ start: s.start, end: s.end, label: `[REDACTED:${s.type}]` });
  }
  if (channel !== 'user') {
    for (const p of pii) cuts.push({ start: p.start, end: p.end, label: `[REDACTED:${p.type}]` });
  }
  const removed = channel === 'tool_output' ? a.classifier.filter((h) => h.score >= escalateAt) : [];
  if (channel === 'tool_output' && injFlagged) {
    const breaks = new TextBreaks(text);
    for (const h of a.injection) {
      // An encoded payload is removed whole; plain text loses the line or HTML block around the hit
      // (when short), else the sentence.
      const span = h.encoded ? h : (breaks.blockOf(h.start, h.end) ?? breaks.sentenceOf(h.start, h.end));
      cuts.push({ start: span.start, end: span.end, label: INSTRUCTION_PLACEHOLDER });
    }
    // Classifier segments are sentences/lines (or whole encoded payloads); a short block goes with them.
    for (const h of removed) {
      const span = h.encoded ? h : (breaks.blockOf(h.start, h.end) ?? h);
      cuts.push({ start: span.start, end: span.end, label: INSTRUCTION_PLACEHOLDER });
    }
  }

  let verdict: Verdict = 'allow';
  if (cuts.length > 0) verdict = 'redact';
  if (channel === 'user') {
    if (injScore >= blockAt) verdict = 'block';
    else if (injFlagged) verdict = 'escalate';
  }

  // Per-category scores and the reasons behind them.
  const scores: Record<string, number> = {};
  const reasons: string[] = [];
  if (channel !== 'output') {
    const byCat = (c: InjectionCategory): number => injectionScore(a.injection.filter((h) => h.category === c));
    const pi = Math.max(byCat('prompt_injection'), clfScore);
    const jb = byCat('jailbreak');
    if (pi > 0) scores.prompt_injection = round3(pi);
    if (jb > 0) scores.jailbreak = round3(jb);
    for (const id of uniq(a.injection.map((h) => `${h.ruleId}${h.encoded ? ' (in decoded payload)' : ''}`))) reasons.push(`rule ${id}`);
    if (clfScore >= escalateAt) {
      const top = a.classifier.reduce((x, h) => (h.score > x.score ? h : x));
      const t = top.thresholds;
      const where = channel === 'tool_output' ? `, ${removed.length} of ${a.classifier.length} sentences removed` : '';
      reasons.push(`classifier p=${top.p.toFixed(2)} ≥ ${probabilityAt(escalateAt, t).toFixed(2)}${where}${top.encoded ? ' (in decoded payload)' : ''}`);
    }
  }
  if (secrets.length > 0) {
    scores.secret = SECRET_SCORE;
    for (const t of uniq(secrets.map((s) => s.type))) reasons.push(`secret ${t}`);
  }
  if (identifiers.length > 0) {
    scores.identifier = IDENTIFIER_SCORE;
    for (const t of uniq(identifiers.map((s) => s.type))) reasons.push(`identifier ${t}`);
  }
  if (pii.length > 0) {
    scores.pii = PII_SCORE;
    for (const t of uniq(pii.map((p) => p.type))) reasons.push(`pii ${t}`);
  }

  const score = Math.max(injScore, secrets.length > 0 ? SECRET_SCORE : 0, pii.length > 0 ? PII_SCORE : 0, identifiers.length > 0 ? IDENTIFIER_SCORE : 0);
  const res: ScreenResponse = { verdict, categories, score: round3(score), scores, reasons };
  // Redacted text goes with every verdict that has cuts, so a blocked message can still be logged safely.
  if (cuts.length > 0) res.redacted = applyCuts(text, cuts);
  return res;
}

/** Inverse of probabilityToScore for one score level (to report the probability a custom threshold means). */
function probabilityAt(score: number, t: { escalate: number; block: number }): number {
  if (score <= ESCALATE_THRESHOLD) return (score / ESCALATE_THRESHOLD) * t.escalate;
  if (score <= BLOCK_THRESHOLD) return t.escalate + ((score - ESCALATE_THRESHOLD) / (BLOCK_THRESHOLD - ESCALATE_THRESHOLD)) * (t.block - t.escalate);
  return t.block + ((score - BLOCK_THRESHOLD) / (1 - BLOCK_THRESHOLD)) * (1 - t.block);
}
