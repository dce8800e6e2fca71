/**
 * A small bounded cache with a time to live, for answers that may be a little
 * stale (a revoked API key keeps working for at most `ttlMs`). Cleared whole
 * when full: simpler than LRU and enough for a hot set of keys.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { at: number; value: V }>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000) {}

  async getOrLoad(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const value = await load();
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { at: Date.now(), value });
    return value;
  }
}
