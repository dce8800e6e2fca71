/**
 * The injection classifier's featuriser, used by BOTH the training script
 * (src/training/train-injection.ts) and the runtime classifier, so features cannot drift.
 *
 * Input is the `match` view of normalise() (lower case, homoglyphs and leetspeak folded,
 * `l` merged into `i`). Features are binary:
 * - character n-grams, n = 2..5, inside each word padded with one space on each side
 *   (" ign", "gnor", "ore "), where a word is a run of letters, digits and marks; unspaced
 *   scripts (CJK, Thai) form long runs whose n-grams act as character shingles;
 * - word unigrams and bigrams.
 * Each feature is hashed (FNV-1a over UTF-16 units, then the murmur3 finaliser) into
 * 2^FEATURE_SPEC.bits (2^18) buckets TWICE: once into a shared copy and once salted with the channel.
 * That is "frustratingly easy" domain adaptation (Daumé 2007): attack vocabulary learnt from
 * user messages carries over to tool output through the shared copy, while the channel copy
 * lets the same words mean different things per channel — "What is the capital of Brazil?"
 * is a harmless user question but an injected task inside a retrieved document, and benign
 * user prompts are full of imperatives that would look suspicious in a tool result.
 * One weight vector, one hashing pass, half the file size of two separate models. Measured by
 * grouped cross-validation on the training file (recall at the same FPR budgets): shared +
 * channel copies 0.93 user / 0.78 tool_output (classifier alone); separate per-channel weights
 * 0.93 / 0.73; shared copy only 0.83 / 0.75.
 *
 * A text's vector holds each distinct bucket once with value 1/sqrt(max(#buckets, normFloor))
 * (unit L2 norm except for very short texts), so long and short texts score on the same scale.
 */

export type FeatureChannel = 'user' | 'tool_output';

/** Everything that determines the feature space; stored in the model file and checked at load. */
export const FEATURE_SPEC = {
  version: 2,
  bits: 18,
  charNgramMin: 2,
  charNgramMax: 5,
  wordNgramMax: 2,
  hash: 'fnv1a32-utf16+murmur3fmix',
  channelCopies: true,
  /** Vectors are scaled by 1/sqrt(max(#buckets, normFloor)). */
  normFloor: 100,
} as const;

export const FEATURE_BUCKETS = 1 << FEATURE_SPEC.bits;
const MASK = FEATURE_BUCKETS - 1;

// Local bindings: inside a vm context (Jest's test environment) every `Math.x` lookup in a hot loop
// goes through the sandbox's global object and runs ~100x slower.
const imul = Math.imul;
const min = Math.min;
const sqrt = Math.sqrt;
const max = Math.max;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
// Distinct seeds keep a one-word "word" feature apart from the 5-gram " abc " of the same text.
const CHAR_SEED = FNV_OFFSET;
const WORD_SEED = 0x9747b28c;
const BIGRAM_SALT = 0x5bd1e995;
const CHANNEL_SALT: Readonly<Record<FeatureChannel, number>> = { user: 0x27d4eb2f, tool_output: 0x165667b1 };

/** murmur3 32-bit finaliser: spreads FNV's weak low bits before masking. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 units of a string (exported for tests). */
export function fnv1a(s: string, seed = FNV_OFFSET): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

// Scratch state: screening is synchronous, so one buffer serves every call.
const seen = new Uint8Array(FEATURE_BUCKETS);
let touched = new Uint32Array(8192);
let nTouched = 0;
let salt = 0;
// When scoring (dotFeatures), the int8 weights and the running integer sum over distinct buckets.
let weights: Int8Array | null = null;
let wsum = 0;

function add(bucket: number): void {
  if (seen[bucket] === 1) return;
  seen[bucket] = 1;
  if (weights !== null) wsum += weights[bucket];
  if (nTouched === touched.length) {
    const bigger = new Uint32Array(touched.length * 2);
    bigger.set(touched);
    touched = bigger;
  }
  touched[nTouched++] = bucket;
}

/** One feature: the mixed hash's low bits give the shared bucket; the same bits rotated by 16 and
 * salted with the channel give the channel bucket (one finaliser call for both). */
function emit(h: number): void {
  const x = fmix(h);
  add(x & MASK);
  add((((x >>> 16) | (x << 16)) ^ salt) & MASK);
}

// Word characters: letters, digits and marks (\p{L}\p{N}\p{M}), by code point. BMP answers are
// memoised in a table (0 = not known yet, 1 = no, 2 = yes) so scanning allocates nothing.
const WORD_CHAR = /^[\p{L}\p{N}\p{M}]$/u;
const BMP_WORD = new Uint8Array(0x10000);
const ASTRAL_WORD = new Map<number, boolean>();
const SPACE = 32;

/** Length in UTF-16 units of the word character at text[i] (1 or 2), or 0 if it is none. */
function wordCharAt(text: string, i: number, to: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) {
      const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
      let yes = ASTRAL_WORD.get(cp);
      if (yes === undefined) {
        yes = WORD_CHAR.test(String.fromCodePoint(cp));
        ASTRAL_WORD.set(cp, yes);
      }
      return yes ? 2 : 0;
    }
  }
  let known = BMP_WORD[c];
  if (known === 0) {
    // Lone surrogates are not word characters (the test string is not valid UTF-16).
    known = c >= 0xd800 && c <= 0xdfff ? 1 : WORD_CHAR.test(String.fromCharCode(c)) ? 2 : 1;
    BMP_WORD[c] = known;
  }
  return known === 2 ? 1 : 0;
}

/**
 * Runs the featuriser over text[from, to) — the same features as for text.slice(from, to), without
 * the copy. The distinct buckets end up in touched[0..nTouched). Returns the word-character count.
 */
function collect(text: string, from: number, to: number, channel: FeatureChannel): number {
  nTouched = 0;
  wsum = 0;
  salt = CHANNEL_SALT[channel];
  let wordChars = 0;
  let prevWord = 0;
  let havePrev = false;
  let p = from;
  while (p < to) {
    let w = wordCharAt(text, p, to);
    if (w === 0) {
      p++;
      continue;
    }
    const ws = p;
    do {
      p += w;
      w = p < to ? wordCharAt(text, p, to) : 0;
    } while (w > 0);
    const we = p;
    wordChars += we - ws;
    // Character n-grams over " word ": virtual positions ws-1 (space) .. we (space).
    for (let i = ws - 1; i < we; i++) {
      let h = imul(CHAR_SEED ^ (i < ws ? SPACE : text.charCodeAt(i)), FNV_PRIME);
      const last = min(we, i + FEATURE_SPEC.charNgramMax - 1);
      for (let j = i + 1; j <= last; j++) {
        h = imul(h ^ (j >= we ? SPACE : text.charCodeAt(j)), FNV_PRIME);
        emit(h);
      }
    }
    let wh = WORD_SEED;
    for (let i = ws; i < we; i++) wh = imul(wh ^ text.charCodeAt(i), FNV_PRIME);
    emit(wh);
    if (havePrev) emit(imul(prevWord ^ BIGRAM_SALT, 0x9e3779b1) ^ wh);
    prevWord = wh;
    havePrev = true;
  }
  for (let k = 0; k < nTouched; k++) seen[touched[k]] = 0;
  return wordChars;
}

export interface Features {
  /** Distinct bucket ids, in order of first occurrence. */
  readonly indices: Uint32Array;
  /** The value of every listed bucket: 1/sqrt(max(indices.length, normFloor)), or 0 for an empty vector. */
  readonly value: number;
  /** Letters, digits and marks in the text (the classifier skips near-empty segments). */
  readonly wordChars: number;
}

function norm(n: number): number {
  return n === 0 ? 0 : 1 / sqrt(max(n, FEATURE_SPEC.normFloor));
}

/** Feature vector of a `match`-view text (or of text[from, to)) for a channel. */
export function featurise(matchText: string, channel: FeatureChannel, from = 0, to = matchText.length): Features {
  weights = null;
  const wordChars = collect(matchText, from, to, channel);
  return { indices: touched.slice(0, nTouched), value: norm(nTouched), wordChars };
}

/**
 * The runtime path: w·x for matchText[from, to) with int8 weights, without materialising the
 * vector. Returns the integer weight sum times the vector's value; multiply by the model's scale.
 */
export function dotFeatures(matchText: string, channel: FeatureChannel, q: Int8Array, from = 0, to = matchText.length): { dot: number; wordChars: number } {
  weights = q;
  const wordChars = collect(matchText, from, to, channel);
  weights = null;
  return { dot: wsum * norm(nTouched), wordChars };
}
