/**
 * Similarity search over a user's remembered turns without pgvector (which
 * Debian 12's Postgres does not ship): Postgres stores each turn's embedding
 * as `real[]`, and each orchestrator replica keeps a copy of the vectors of
 * the users it serves, here, as one flat Float32Array per user. A lookup
 * first appends the rows newer than the copy's last id (one indexed range
 * query), then scans: 10k turns × 384 dimensions is ~4M multiply-adds, a few
 * milliseconds (bench/memory.bench.mjs).
 *
 * Only ids and vectors live here, never text: the caller fetches the content
 * of the winners from Postgres, scoped to the tenant and user, so a deleted
 * turn can never be served from a stale copy. A copy that points at rows that
 * are gone (the user's memory was deleted on another replica) is detected by
 * that fetch and dropped (`forget`).
 *
 * Copies are evicted least recently used beyond `maxVectors` in all.
 */
export class VectorIndex {
  private readonly users = new Map<string, UserVectors>();
  private total = 0;

  constructor(private readonly dim: number, private readonly maxVectors = 250_000) {}

  /** The id after which rows are missing from the user's copy (0: none held). */
  lastId(userScope: string): number {
    return this.users.get(userScope)?.lastId ?? 0;
  }

  /** Adds rows (ascending ids, all above lastId) to the user's copy. */
  append(userScope: string, rows: readonly { id: number; vector: ArrayLike<number> }[]): void {
    if (rows.length === 0) return;
    // Checked before anything is added: a half-applied batch would move lastId past rows the copy never got.
    for (const row of rows) {
      if (row.vector.length !== this.dim) throw new Error(`embedding of dimension ${row.vector.length}; the index holds ${this.dim}`);
    }
    let u = this.users.get(userScope);
    if (!u) {
      u = { ids: new Float64Array(64), vectors: new Float32Array(64 * this.dim), size: 0, lastId: 0 };
      this.users.set(userScope, u);
    }
    for (const row of rows) {
      if (row.id <= u.lastId) continue;
      if (u.size === u.ids.length) grow(u, this.dim);
      u.ids[u.size] = row.id;
      u.vectors.set(row.vector, u.size * this.dim);
      u.size++;
      u.lastId = row.id;
      this.total++;
    }
    this.touch(userScope, u);
    this.evict(userScope);
  }

  /**
   * The `k` ids most similar to `query` (cosine: vectors are L2-normalised),
   * at least `minScore`, best first, skipping `exclude`.
   */
  search(userScope: string, query: Float32Array, k: number, minScore: number, exclude: ReadonlySet<number> = new Set()): { id: number; score: number }[] {
    // A query of another dimension would read past its end: NaN scores that pass every comparison.
    if (query.length !== this.dim) throw new Error(`query of dimension ${query.length}; the index holds ${this.dim}`);
    const u = this.users.get(userScope);
    if (!u || k <= 0) return [];
    this.touch(userScope, u);
    const dim = this.dim;
    const vectors = u.vectors;
    // A small sorted top-k: k is tiny (≤ 100) next to the number of rows.
    const top: { id: number; score: number }[] = [];
    for (let row = 0; row < u.size; row++) {
      const base = row * dim;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += vectors[base + d] * query[d];
      if (dot < minScore || (top.length === k && dot <= top[k - 1].score)) continue;
      const id = u.ids[row];
      if (exclude.has(id)) continue;
      let at = top.length;
      while (at > 0 && top[at - 1].score < dot) at--;
      top.splice(at, 0, { id, score: dot });
      if (top.length > k) top.pop();
    }
    return top;
  }

  /** Drops a user's copy (their memory was deleted, or the copy proved stale). */
  forget(userScope: string): void {
    const u = this.users.get(userScope);
    if (!u) return;
    this.total -= u.size;
    this.users.delete(userScope);
  }

  get size(): number {
    return this.total;
  }

  /** Map order is insertion order: re-inserting marks the most recently used. */
  private touch(userScope: string, u: UserVectors): void {
    this.users.delete(userScope);
    this.users.set(userScope, u);
  }

  private evict(keep: string): void {
    for (const [scope, u] of this.users) {
      if (this.total <= this.maxVectors) return;
      if (scope === keep) continue;
      this.total -= u.size;
      this.users.delete(scope);
    }
  }
}

interface UserVectors {
  ids: Float64Array;
  vectors: Float32Array;
  size: number;
  lastId: number;
}

function grow(u: UserVectors, dim: number): void {
  const ids = new Float64Array(u.ids.length * 2);
  ids.set(u.ids);
  const vectors = new Float32Array(ids.length * dim);
  vectors.set(u.vectors);
  u.ids = ids;
  u.vectors = vectors;
}
