/**
 * A bounded least-recently-used map from text to its token count. The router
 * counts the whole transcript on every step, but a transcript only grows: with
 * this cache each message's text is tokenised once per task instead of once per
 * step. Keys are the strings themselves (messages arrive as fresh objects over
 * NATS, so object identity never repeats) and V8 hashes a string once, far
 * cheaper than BPE-encoding it.
 */
export interface TokenCacheOptions {
  /** Most texts kept. */
  maxEntries?: number;
  /** Most UTF-16 units kept across all keys, so a few huge tool outputs cannot pin the heap. */
  maxChars?: number;
  /** Texts longer than this are counted every time and never cached. */
  maxKeyChars?: number;
}

export const DEFAULT_TOKEN_CACHE_ENTRIES = 10_000;
export const DEFAULT_TOKEN_CACHE_CHARS = 8_000_000;
export const DEFAULT_TOKEN_CACHE_KEY_CHARS = 1_000_000;

/**
 * Two generations instead of a strict LRU list (the quick-lru scheme): hits in the
 * young map cost one lookup, hits in the old map move the entry to the young map,
 * and when the young map is full the old one is dropped whole. Strict LRU order
 * (delete + re-insert on every hit) measured ~10x slower on a full 10k-entry Map.
 * At most `maxEntries` texts and `maxChars` characters are held.
 */
export class TokenCountCache {
  private young = new Map<string, number>();
  private old = new Map<string, number>();
  private youngChars = 0;
  private oldChars = 0;
  private readonly maxEntries: number;
  private readonly maxChars: number;
  private readonly maxKeyChars: number;

  constructor(options: TokenCacheOptions = {}) {
    // Each generation holds half, so both together stay within the bounds.
    this.maxEntries = Math.max(2, options.maxEntries ?? DEFAULT_TOKEN_CACHE_ENTRIES);
    this.maxChars = Math.max(2, options.maxChars ?? DEFAULT_TOKEN_CACHE_CHARS);
    this.maxKeyChars = Math.min(Math.floor(this.maxChars / 2), options.maxKeyChars ?? DEFAULT_TOKEN_CACHE_KEY_CHARS);
  }

  /** Texts held (both generations). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  /** Total length of the texts held. */
  get totalChars(): number {
    return this.youngChars + this.oldChars;
  }

  /** The cached count of `text`, or `count(text)` remembered for next time. */
  getOrCount(text: string, count: (text: string) => number): number {
    const young = this.young.get(text);
    if (young !== undefined) return young;
    const old = this.old.get(text);
    if (old !== undefined) {
      this.old.delete(text);
      this.oldChars -= text.length;
      this.remember(text, old);
      return old;
    }
    const value = count(text);
    if (text.length <= this.maxKeyChars) this.remember(text, value);
    return value;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngChars = 0;
    this.oldChars = 0;
  }

  private remember(text: string, value: number): void {
    if (this.young.size + 1 > this.maxEntries / 2 || this.youngChars + text.length > this.maxChars / 2) {
      this.old = this.young;
      this.oldChars = this.youngChars;
      this.young = new Map();
      this.youngChars = 0;
    }
    this.young.set(text, value);
    this.youngChars += text.length;
  }
}
