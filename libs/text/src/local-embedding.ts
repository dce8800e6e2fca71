/**
 * The built-in embedding: no network, no model file, deterministic across
 * processes and machines. Feature hashing of character 3–5-grams and word
 * unigrams into a fixed dimension, signed (a random ± per feature) so hash
 * collisions cancel out on average instead of adding false similarity,
 * square-root damped so frequent n-grams ("the", "ing") do not dominate, and
 * L2-normalised so cosine similarity is a dot product.
 *
 * It measures surface similarity, not meaning: paraphrases with different
 * words score low. With a 0.95 threshold that errs on the safe side (a miss,
 * never a wrong answer), which is the right default for a cache.
 */
export const LOCAL_EMBEDDING_DIM = 384;
/** Stored beside each vector: vectors from different embedders are never compared. */
export const LOCAL_EMBEDDING_MODEL = `local-ngram-v1-${LOCAL_EMBEDDING_DIM}`;

export interface Embedding {
  model: string;
  /** L2-normalised. */
  vector: Float32Array;
}

export interface Embedder {
  readonly model: string;
  embed(text: string): Promise<Embedding>;
}

const MIN_GRAM = 3;
const MAX_GRAM = 5;
/** Words carry more meaning than any one of their n-grams. */
const WORD_WEIGHT = 2;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const WORD_SEED = 0x9e3779b9;
// Module-level copies: a global lookup per n-gram costs more than the hashing (notably inside vm contexts such as Jest's).
const imul = Math.imul;
const sqrt = Math.sqrt;

/**
 * Lower case, compatibility forms folded, whitespace collapsed, no space before
 * punctuation, trailing sentence punctuation dropped ("…France?" and "…France"
 * ask the same). Other punctuation and symbols stay: "2+2" and "2*2" must not
 * embed alike.
 */
export function prepareForEmbedding(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').replace(/ ([.,;:!?])/g, '$1').replace(/[\s.!?。？！]+$/u, '').trim();
}

/** ASCII letters and digits, and anything non-ASCII (letters of other scripts); a cheap word test. */
function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c > 127;
}

/** murmur3's finaliser: FNV's low bits are weak, and the bucket and sign come from them. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function add(v: Float32Array, h: number, weight: number): void {
  const m = mix(h);
  // The top bit picks the sign, the rest the bucket: independent enough for 384 buckets.
  v[(m & 0x7fffffff) % v.length] += m & 0x80000000 ? -weight : weight;
}

/** Synchronous core; `dim` is fixed per deployment since stored vectors must match it. */
export function localEmbed(text: string, dim = LOCAL_EMBEDDING_DIM): Float32Array {
  const v = new Float32Array(dim);
  // Padded with spaces so word starts and ends form their own n-grams.
  const s = ` ${prepareForEmbedding(text)} `;
  const n = s.length;
  let word = WORD_SEED;
  let wordLen = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    // Character n-grams starting at i, hashed incrementally: no substrings allocated.
    let h = FNV_OFFSET;
    const end = i + MAX_GRAM < n ? i + MAX_GRAM : n;
    for (let j = i; j < end; j++) {
      h = imul(h ^ s.charCodeAt(j), FNV_PRIME);
      const len = j - i + 1;
      if (len >= MIN_GRAM) add(v, h ^ len, 1);
    }
    // Word unigrams are runs of word characters, so "france?" counts as the word "france".
    if (isWordChar(c)) {
      word = imul(word ^ c, FNV_PRIME);
      wordLen++;
    } else {
      if (wordLen > 0) add(v, word, WORD_WEIGHT);
      word = WORD_SEED;
      wordLen = 0;
    }
  }
  let norm = 0;
  for (let k = 0; k < dim; k++) {
    const x = v[k];
    const d = x < 0 ? -sqrt(-x) : sqrt(x);
    v[k] = d;
    norm += d * d;
  }
  if (norm > 0) {
    const inv = 1 / sqrt(norm);
    for (let k = 0; k < dim; k++) v[k] *= inv;
  }
  return v;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`vectors of different dimensions (${a.length} and ${b.length})`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

export function l2Normalise(values: ArrayLike<number>): Float32Array {
  const v = Float32Array.from(values);
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i] * v[i];
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < v.length; i++) v[i] *= inv;
  }
  return v;
}

export class LocalEmbedder implements Embedder {
  readonly model: string;

  constructor(private readonly dim = LOCAL_EMBEDDING_DIM) {
    this.model = dim === LOCAL_EMBEDDING_DIM ? LOCAL_EMBEDDING_MODEL : `local-ngram-v1-${dim}`;
  }

  async embed(text: string): Promise<Embedding> {
    return { model: this.model, vector: localEmbed(text, this.dim) };
  }
}
