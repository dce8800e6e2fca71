/**
 * Lightweight prompt-injection / jailbreak classifier: logistic regression over the hashed
 * n-gram features of injection.features.ts. Weights are trained offline by
 * `npm run guardrail:train` (src/training/train-injection.ts) and committed as
 * apps/guardrail/data/injection-model.json (int8-quantised, base64). The file is read once,
 * when this module loads.
 *
 * - `user` messages are scored whole (long ones in overlapping windows, max taken).
 * - `tool_output` is scored one sentence/line at a time (segments.ts), because an indirect
 *   injection is a sentence planted inside otherwise harmless data: the document's score is
 *   its worst segment, and the segments above the threshold are what the screener removes.
 *
 * Probabilities are turned into the screener's score scale per channel: the probability
 * threshold chosen by cross-validation for "escalate" maps to 0.5 and the one for "block"
 * to 0.8 (piecewise linear), so rule scores and classifier scores share one scale and the
 * verdict thresholds (and per-request overrides) apply to both.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { dotFeatures, FEATURE_BUCKETS, FEATURE_SPEC } from './injection.features';
import type { FeatureChannel } from './injection.features';
import { splitSegments } from './segments';

export interface ChannelThresholds {
  /** Probability at which the text is flagged (user: escalate; tool_output: segment removed). */
  escalate: number;
  /** Probability at which a user message is blocked outright. */
  block: number;
}

/** The committed model file (see train-injection.ts for how each field is produced). */
export interface InjectionModelFile {
  format: 'keel-injection-logreg';
  features: typeof FEATURE_SPEC;
  bias: Record<FeatureChannel, number>;
  quantisation: { type: 'int8'; scale: number };
  /** base64 of FEATURE_BUCKETS signed bytes; weight = byte * scale. */
  weights: string;
  thresholds: Record<FeatureChannel, ChannelThresholds>;
  /** Segments (or texts) with fewer letters/digits than this are not scored. */
  minWordChars: number;
  /** Optional: user messages of fewer than `maxWords` words use these thresholds instead (see shortTextThresholds). */
  shortText?: ShortTextRule;
  trained?: Record<string, unknown>;
}

/** Stricter classifier thresholds for short user messages, chosen by cross-validation (train-injection.ts). */
export interface ShortTextRule {
  /** A user message is short when it has fewer than this many words (wordCount of the match view). */
  maxWords: number;
  user: ChannelThresholds;
}

/** Only texts up to this many characters are word-counted; any text this short rule applies to is far shorter. */
export const SHORT_TEXT_MAX_CHARS = 400;

export interface InjectionModel {
  /** Quantised weights; a bucket's weight is q[i] * scale. */
  readonly q: Int8Array;
  readonly scale: number;
  readonly bias: Readonly<Record<FeatureChannel, number>>;
  readonly thresholds: Readonly<Record<FeatureChannel, ChannelThresholds>>;
  readonly minWordChars: number;
  readonly shortText?: Readonly<ShortTextRule>;
}

/** Texts longer than this are scored in windows of WINDOW_CHARS, stepping by half a window. */
export const MAX_WHOLE_CHARS = 8192;
export const WINDOW_CHARS = 4096;

/**
 * Location of the committed model: apps/guardrail/data, reached from src/screening (Jest) or
 * dist/screening. The package build also copies it to dist/data, because a container image
 * ships only each package's dist (see the Dockerfile); that copy is the fallback.
 */
export const MODEL_PATH = [path.join(__dirname, '../../data/injection-model.json'), path.join(__dirname, '../data/injection-model.json')]
  .find((p) => fs.existsSync(p)) ?? path.join(__dirname, '../../data/injection-model.json');

/** Quantises weights to int8 with one scale (max |w| / 127); the training script writes this. */
export function quantiseWeights(w: ArrayLike<number>): { scale: number; bytes: Int8Array } {
  let max = 0;
  for (let i = 0; i < w.length; i++) max = Math.max(max, Math.abs(w[i]));
  const scale = max === 0 ? 1 : max / 127;
  const bytes = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) bytes[i] = Math.max(-127, Math.min(127, Math.round(w[i] / scale)));
  return { scale, bytes };
}

/** Validates a parsed model file and expands its weights. */
export function modelFromFile(file: InjectionModelFile): InjectionModel {
  if (file.format !== 'keel-injection-logreg') throw new Error(`injection model: unknown format ${String(file.format)}`);
  for (const [k, v] of Object.entries(FEATURE_SPEC)) {
    if ((file.features as Record<string, unknown>)[k] !== v) throw new Error(`injection model: feature spec mismatch on ${k} (file ${String((file.features as Record<string, unknown>)[k])}, code ${String(v)}); retrain with npm run guardrail:train`);
  }
  if (file.quantisation?.type !== 'int8') throw new Error('injection model: only int8 quantisation is supported');
  const buf = Buffer.from(file.weights, 'base64');
  if (buf.length !== FEATURE_BUCKETS) throw new Error(`injection model: ${buf.length} weights, expected ${FEATURE_BUCKETS}`);
  const bytes = new Int8Array(buf.length);
  bytes.set(new Int8Array(buf.buffer, buf.byteOffset, buf.length));
  for (const ch of ['user', 'tool_output'] as const) {
    const t = file.thresholds?.[ch];
    if (t === undefined || !(t.escalate > 0 && t.escalate < 1 && t.block >= t.escalate && t.block < 1)) throw new Error(`injection model: bad thresholds for ${ch}`);
    if (!Number.isFinite(file.bias?.[ch])) throw new Error(`injection model: bad bias for ${ch}`);
  }
  return {
    q: bytes,
    scale: file.quantisation.scale,
    bias: { ...file.bias },
    thresholds: { user: { ...file.thresholds.user }, tool_output: { ...file.thresholds.tool_output } },
    minWordChars: file.minWordChars,
    ...(file.shortText === undefined ? {} : { shortText: validShortText(file.shortText, file.thresholds.user) }),
  };
}

function validShortText(r: ShortTextRule, user: ChannelThresholds): ShortTextRule {
  const t = r.user;
  if (!(Number.isInteger(r.maxWords) && r.maxWords > 0) || t === undefined || !(t.escalate >= user.escalate && t.escalate < 1 && t.block >= t.escalate && t.block < 1)) throw new Error('injection model: bad shortText rule');
  return { maxWords: r.maxWords, user: { ...t } };
}

export function loadModel(file: string): InjectionModel {
  return modelFromFile(JSON.parse(fs.readFileSync(file, 'utf8')) as InjectionModelFile);
}

// Loaded once at module load. A missing or broken file is reported on first use rather than at
// import, so the training script (which imports the screener for the rule scores) can run
// before any model exists.
let loaded: InjectionModel | null = null;
let loadError: Error | null = null;
try {
  loaded = loadModel(MODEL_PATH);
} catch (e) {
  loadError = e as Error;
}

/** The committed model; throws if it could not be loaded. */
export function injectionModel(): InjectionModel {
  if (loaded === null) throw new Error(`injection classifier model not available at ${MODEL_PATH}: ${loadError?.message ?? 'unknown error'}`);
  return loaded;
}

const WORDS = new Intl.Segmenter('und', { granularity: 'word' });

/** Number of words (Unicode word segmentation, word-like segments only; CJK split by ICU's dictionaries). */
export function wordCount(text: string): number {
  let n = 0;
  for (const s of WORDS.segment(text)) if (s.isWordLike === true) n++;
  return n;
}

/**
 * The classifier thresholds for a user message (`match` view): the model's short-text thresholds when
 * it has a short-text rule and the message has fewer than `maxWords` words, else the channel's. Short
 * messages carry little evidence, and cross-validation showed the channel thresholds flag far more
 * short benign chat than the FPR target allows; the rule applies to the classifier only, not to the rules.
 */
export function userThresholds(matchText: string, model: InjectionModel = injectionModel()): ChannelThresholds {
  const r = model.shortText;
  if (r !== undefined && matchText.length <= SHORT_TEXT_MAX_CHARS && wordCount(matchText) < r.maxWords) return r.user;
  return model.thresholds.user;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** P(attack) for matchText[from, to) scored as a whole; 0 if it has too few letters. */
function probabilityWhole(model: InjectionModel, matchText: string, channel: FeatureChannel, from: number, to: number): number {
  const { dot, wordChars } = dotFeatures(matchText, channel, model.q, from, to);
  if (wordChars < model.minWordChars) return 0;
  return sigmoid(model.bias[channel] + dot * model.scale);
}

/**
 * P(attack) for a `match`-view text (or matchText[from, to)) scored as one unit. Texts over
 * MAX_WHOLE_CHARS are scored in WINDOW_CHARS windows (half-window steps) and the maximum is
 * returned, so a long message cannot dilute a planted instruction and the cost stays linear.
 */
export function injectionProbability(matchText: string, channel: FeatureChannel, model: InjectionModel = injectionModel(), from = 0, to = matchText.length): number {
  if (to - from <= MAX_WHOLE_CHARS) return probabilityWhole(model, matchText, channel, from, to);
  let best = 0;
  const step = WINDOW_CHARS / 2;
  for (let s = from; s < to; s += step) {
    best = Math.max(best, probabilityWhole(model, matchText, channel, s, Math.min(to, s + WINDOW_CHARS)));
    if (s + WINDOW_CHARS >= to) break;
  }
  return best;
}

export interface ScoredSegment {
  /** Offsets in the scored (match-view) text. */
  start: number;
  end: number;
  p: number;
}

/** Scores every sentence/line of a `match`-view text; segments with too few letters get p = 0 and are omitted. */
export function scoreSegments(matchText: string, channel: FeatureChannel, model: InjectionModel = injectionModel()): ScoredSegment[] {
  const out: ScoredSegment[] = [];
  for (const seg of splitSegments(matchText)) {
    const p = injectionProbability(matchText, channel, model, seg.start, seg.end);
    if (p > 0) out.push({ start: seg.start, end: seg.end, p });
  }
  return out;
}

/**
 * Maps a probability to the screener's score scale: [0, escalate] → [0, escalateScore],
 * [escalate, block] → [escalateScore, blockScore], [block, 1] → [blockScore, 1].
 */
export function probabilityToScore(p: number, t: ChannelThresholds, escalateScore: number, blockScore: number): number {
  if (p <= t.escalate) return (p / t.escalate) * escalateScore;
  if (p <= t.block) return t.block === t.escalate ? blockScore : escalateScore + ((p - t.escalate) / (t.block - t.escalate)) * (blockScore - escalateScore);
  return blockScore + ((p - t.block) / (1 - t.block)) * (1 - blockScore);
}
