/**
 * A small bounded cache with a time to live, for answers that may be a little
 * stale (a revoked API key keeps working for at most `ttlMs`). Cleared whole
 * when full: simpler than LRU and enough for a hot set of keys.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { at: number; value: V }>();
  /** Bumped by `deleteWhere`: a load that started before it is not cached (it may have read what was just invalidated). */
  private generation = 0;

  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000) {}

  async getOrLoad(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value;
    const generation = this.generation;
    const value = await load();
    if (generation !== this.generation) return value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { at: Date.now(), value });
    return value;
  }

  /** The cached value if fresh, else undefined; never loads (for cheap checks that must not wait). */
  peek(key: K): V | undefined {
    const hit = this.entries.get(key);
    return hit && Date.now() - hit.at < this.ttlMs ? hit.value : undefined;
  }

  /** Drops every entry the predicate matches (e.g. a revoked key, known by its id rather than its secret). */
  deleteWhere(match: (value: V, key: K) => boolean): number {
    this.generation++;
    let n = 0;
    for (const [k, e] of this.entries) {
      if (match(e.value, k)) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }
}
