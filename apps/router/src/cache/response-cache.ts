import { CompleteResponseSchema } from '@keel/contracts';
import type { CompleteResponse } from '@keel/contracts';
import type { DataSource } from '@keel/persistence';
import { cacheKeys } from './cache-key';
import type { CacheableRequest, CacheKeys, CacheScope } from './cache-key';
import { LocalEmbedder } from '@keel/text';
import type { Embedder, Embedding } from '@keel/text';

/**
 * Exact and semantic response cache.
 *
 * Storage is `router.response_cache`, written through on `store`; lookups are
 * served from an in-memory index per scope, loaded lazily from the table on a
 * scope's first lookup (so a restarted or second replica sees what others
 * wrote) and reloaded after `reloadAfterMs`. A hit is re-checked against the
 * table (one primary-key read) before it is returned, so an invalidation or
 * expiry made by another replica is honoured at once.
 *
 * What is cached:
 * - final answers (`stop`, content, no tool calls): exact under the normalised
 *   request, and semantically (cosine ≥ threshold of the last user message,
 *   everything before it equal);
 * - tool-calling turns: exact only, under the request as given byte for byte
 *   (their arguments come from live data; a reworded request must re-ask);
 * - truncated answers (`length`): exact only;
 * - nothing else: errors are not responses and cannot be stored, and a
 *   response that does not validate is skipped.
 */
export const DEFAULT_CACHE_TTL_MS = 3_600_000;
export const DEFAULT_SIMILARITY = 0.95;
/** Below this, "similar" questions stop having the same answer. */
export const MIN_SIMILARITY = 0.9;

export type CacheHitKind = 'exact' | 'semantic';

export interface CacheHit {
  /** As the model produced it; its usage and cost are the original call's. */
  response: CompleteResponse;
  kind: CacheHitKind;
  /** 1 for exact hits. */
  similarity: number;
  ageMs: number;
}

export type StoreOutcome = 'stored_exact' | 'stored_semantic' | 'skipped';

export interface ResponseCacheOptions {
  /** Absent: memory only (tests, benchmarks). */
  db?: DataSource;
  embedder?: Embedder;
  ttlMs?: number;
  /** Cosine similarity a semantic hit needs; at least 0.9. */
  similarity?: number;
  /** Bound of one scope's index; the oldest tenth goes when it is full. */
  maxEntriesPerScope?: number;
  /** Scopes kept in memory; the least recently used goes first. */
  maxScopes?: number;
  /** A loaded scope index older than this is reloaded, picking up other replicas' writes. */
  reloadAfterMs?: number;
  /** Re-check a hit's row before answering (default: on when there is a database). */
  verifyHits?: boolean;
  now?: () => number;
  /** Storage failures never fail a model call: they are reported here and the cache misses. */
  onError?: (err: unknown, op: 'load' | 'store' | 'verify' | 'embed') => void;
}

interface Entry {
  key: string;
  group?: string;
  /** Validated when it is served, not when loaded: most entries are never hit. */
  response: unknown;
  createdAt: number;
  expiresAt: number;
}

interface Row {
  key_hash: string;
  semantic_group: string | null;
  embedding: number[] | null;
  response: unknown;
  created_ms: string | number;
  expires_ms: string | number;
}

/** Dimensions kept in a separate contiguous prefix matrix (see `search`). */
const PREFIX_DIMS = 48;

/**
 * The vectors of one semantic group (same scope, same context, same embedder)
 * in contiguous Float32Arrays: the first PREFIX_DIMS dimensions of every vector
 * in one matrix, the whole vectors in another.
 */
export class SemanticGroup {
  private readonly p: number;
  private prefix: Float32Array;
  private vectors: Float32Array;
  private entries: Entry[] = [];
  private readonly pos = new Map<string, number>();

  constructor(readonly dim: number, capacity = 16) {
    this.p = Math.min(PREFIX_DIMS, dim);
    this.prefix = new Float32Array(capacity * this.p);
    this.vectors = new Float32Array(capacity * dim);
  }

  get size(): number {
    return this.entries.length;
  }

  upsert(entry: Entry, vector: Float32Array): void {
    if (vector.length !== this.dim) throw new Error(`embedding of dimension ${vector.length} in a group of ${this.dim}`);
    let i = this.pos.get(entry.key);
    if (i === undefined) {
      i = this.entries.length;
      if ((i + 1) * this.dim > this.vectors.length) {
        this.vectors = grow(this.vectors);
        this.prefix = grow(this.prefix);
      }
      this.entries.push(entry);
      this.pos.set(entry.key, i);
    } else {
      this.entries[i] = entry;
    }
    this.vectors.set(vector, i * this.dim);
    this.prefix.set(vector.subarray(0, this.p), i * this.p);
  }

  /** Swap-remove: order does not matter to a scan. */
  remove(key: string): void {
    const i = this.pos.get(key);
    if (i === undefined) return;
    const last = this.entries.length - 1;
    if (i !== last) {
      const moved = this.entries[last];
      this.entries[i] = moved;
      this.pos.set(moved.key, i);
      this.vectors.copyWithin(i * this.dim, last * this.dim, (last + 1) * this.dim);
      this.prefix.copyWithin(i * this.p, last * this.p, (last + 1) * this.p);
    }
    this.entries.pop();
    this.pos.delete(key);
  }

  /**
   * Best live entry with cosine ≥ minSimilarity: a linear scan. Vectors are
   * unit length, so cosine ≥ t ⇔ squared distance ≤ 2(1 − t); the distance
   * only grows dimension by dimension, so a candidate is abandoned once it
   * passes the bound (checked every 16 dimensions), and the bound tightens to
   * the best so far. Unrelated vectors are nearly all abandoned within the
   * first 48 dimensions, which is why those live in their own matrix: the scan
   * reads it sequentially instead of touching every whole vector.
   */
  search(query: Float32Array, minSimilarity: number, now: number): { entry: Entry; similarity: number } | null {
    if (query.length !== this.dim) return null;
    const dim = this.dim;
    const p = this.p;
    const pre = this.prefix;
    const v = this.vectors;
    let bound = 2 * (1 - minSimilarity) + 1e-6;
    let best: Entry | null = null;
    let bestD2 = Infinity;
    for (let i = 0, n = this.entries.length; i < n; i++) {
      let d2 = 0;
      let k = 0;
      const pb = i * p;
      while (k < p) {
        // No Math.min here: a global lookup per block is measurable over 100k vectors.
        const stop = k + 16 < p ? k + 16 : p;
        for (; k < stop; k++) {
          const d = query[k] - pre[pb + k];
          d2 += d * d;
        }
        if (d2 > bound) break;
      }
      if (d2 > bound) continue;
      const base = i * dim;
      while (k < dim) {
        const stop = k + 16 < dim ? k + 16 : dim;
        for (; k < stop; k++) {
          const d = query[k] - v[base + k];
          d2 += d * d;
        }
        if (d2 > bound) break;
      }
      if (d2 > bound) continue;
      const e = this.entries[i];
      if (e.expiresAt <= now) continue;
      best = e;
      bestD2 = d2;
      bound = d2;
    }
    return best ? { entry: best, similarity: Math.min(1, 1 - bestD2 / 2) } : null;
  }
}

function grow(a: Float32Array): Float32Array {
  const grown = new Float32Array(Math.max(16, a.length * 2));
  grown.set(a);
  return grown;
}

class ScopeIndex {
  readonly entries = new Map<string, Entry>();
  readonly groups = new Map<string, SemanticGroup>();
  /** Semantic entries per context hash: a lookup embeds (maybe over the network) only when one could match. */
  readonly contexts = new Map<string, number>();

  constructor(readonly tenant: string, readonly agent: string, readonly loadedAt: number) {}

  put(entry: Entry, vector: Float32Array | undefined, maxEntries: number, now: number): void {
    this.remove(entry.key);
    if (this.entries.size >= maxEntries) this.shrink(maxEntries, now);
    this.entries.set(entry.key, entry);
    if (entry.group !== undefined && vector) {
      let g = this.groups.get(entry.group);
      if (!g) this.groups.set(entry.group, (g = new SemanticGroup(vector.length)));
      g.upsert(entry, vector);
      const ctx = contextOf(entry.group);
      this.contexts.set(ctx, (this.contexts.get(ctx) ?? 0) + 1);
    } else {
      entry.group = undefined;
    }
  }

  remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    if (e.group === undefined) return;
    const g = this.groups.get(e.group);
    g?.remove(key);
    if (g?.size === 0) this.groups.delete(e.group);
    const ctx = contextOf(e.group);
    const left = (this.contexts.get(ctx) ?? 1) - 1;
    if (left > 0) this.contexts.set(ctx, left);
    else this.contexts.delete(ctx);
  }

  /** Expired entries first, then the oldest tenth: one sort per tenth, not one scan per store. */
  private shrink(maxEntries: number, now: number): void {
    for (const e of [...this.entries.values()]) if (e.expiresAt <= now) this.remove(e.key);
    if (this.entries.size < maxEntries) return;
    const oldest = [...this.entries.values()].sort((a, b) => a.createdAt - b.createdAt);
    const drop = Math.max(1, Math.ceil(maxEntries / 10));
    for (const e of oldest.slice(0, drop)) this.remove(e.key);
  }
}

const EMBED_MEMO_SIZE = 1_000;

export class ResponseCache {
  readonly ttlMs: number;
  readonly similarity: number;
  private readonly db?: DataSource;
  private readonly embedder: Embedder;
  private readonly maxEntriesPerScope: number;
  private readonly maxScopes: number;
  private readonly reloadAfterMs: number;
  private readonly verifyHits: boolean;
  private readonly now: () => number;
  private readonly onError: (err: unknown, op: 'load' | 'store' | 'verify' | 'embed') => void;
  /** Least recently used first (Map keeps insertion order; a use re-inserts). */
  private readonly scopes = new Map<string, ScopeIndex>();
  private readonly loading = new Map<string, Promise<ScopeIndex | null>>();
  /** Bumped by each invalidation of a tenant; a load or store that straddles one is discarded. */
  private readonly tenantGen = new Map<string, number>();
  /** lookup then store embed the same text; the endpoint is asked once. */
  private readonly embedMemo = new Map<string, Promise<Embedding>>();

  constructor(opts: ResponseCacheOptions = {}) {
    const similarity = opts.similarity ?? DEFAULT_SIMILARITY;
    if (!(similarity >= MIN_SIMILARITY && similarity <= 1)) throw new RangeError(`cache similarity must be between ${MIN_SIMILARITY} and 1, got ${similarity}`);
    const ttlMs = opts.ttlMs ?? DEFAULT_CACHE_TTL_MS;
    if (!(ttlMs > 0)) throw new RangeError(`cache TTL must be positive, got ${ttlMs}`);
    this.db = opts.db;
    this.embedder = opts.embedder ?? new LocalEmbedder();
    this.ttlMs = ttlMs;
    this.similarity = similarity;
    this.maxEntriesPerScope = opts.maxEntriesPerScope ?? 10_000;
    this.maxScopes = opts.maxScopes ?? 1_000;
    this.reloadAfterMs = opts.reloadAfterMs ?? 60_000;
    this.verifyHits = opts.verifyHits ?? opts.db !== undefined;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? (() => undefined);
  }

  /** A cached answer for this request in this scope, or null. Never throws on storage errors. */
  async lookup(scope: CacheScope, req: CacheableRequest): Promise<CacheHit | null> {
    const keys = cacheKeys(scope, req);
    const idx = await this.index(keys.scopeKey, scope);
    if (!idx) return null;
    const now = this.now();
    for (const key of [keys.exactKey, keys.rawKey]) {
      const e = idx.entries.get(key);
      if (!e) continue;
      if (e.expiresAt <= now) {
        idx.remove(key);
        continue;
      }
      return this.serve(idx, keys.scopeKey, e, 'exact', 1, now);
    }
    if (!keys.semantic || !idx.contexts.has(keys.semantic.contextHash)) return null;
    const emb = await this.embed(keys.semantic.text);
    if (!emb) return null;
    const group = idx.groups.get(groupKey(keys.semantic.contextHash, emb.model));
    const found = group?.search(emb.vector, this.similarity, now);
    return found ? this.serve(idx, keys.scopeKey, found.entry, 'semantic', found.similarity, now) : null;
  }

  /**
   * Writes an answer through to the table and the loaded index. Call it with
   * the final response of a successful call only; resolves `skipped` for what
   * must not be cached, and on a storage error (reported to `onError`).
   */
  async store(scope: CacheScope, req: CacheableRequest, response: CompleteResponse): Promise<StoreOutcome> {
    const parsed = CompleteResponseSchema.safeParse(response);
    if (!parsed.success) return 'skipped';
    const r = parsed.data;
    const keys = cacheKeys(scope, req);
    const plan = this.plan(keys, r);
    if (!plan) return 'skipped';
    let embedding: Embedding | undefined;
    if (plan.semantic && keys.semantic) embedding = (await this.embed(keys.semantic.text)) ?? undefined;
    const now = this.now();
    const entry: Entry = {
      key: plan.key,
      group: embedding && keys.semantic ? groupKey(keys.semantic.contextHash, embedding.model) : undefined,
      response: r,
      createdAt: now,
      expiresAt: now + this.ttlMs,
    };
    const gen = this.gen(scope.tenant);
    if (this.db) {
      try {
        await this.db.query(
          `INSERT INTO router.response_cache (scope, key_hash, tenant, agent, semantic_group, embedding, response, created_at, expires_at, user_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8 / 1000.0), to_timestamp($9 / 1000.0), $10)
           ON CONFLICT (scope, key_hash) DO UPDATE SET semantic_group = EXCLUDED.semantic_group, embedding = EXCLUDED.embedding,
             response = EXCLUDED.response, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, user_id = EXCLUDED.user_id`,
          [keys.scopeKey, entry.key, scope.tenant, scope.agent, entry.group ?? null, entry.group ? Array.from(embedding?.vector ?? []) : null,
            JSON.stringify(r), entry.createdAt, entry.expiresAt, scope.userId ? scope.userId : null],
        );
        // An invalidation ran while we wrote: the answer predates it, so it must not survive it.
        if (this.gen(scope.tenant) !== gen) {
          await this.db.query('DELETE FROM router.response_cache WHERE scope = $1 AND key_hash = $2', [keys.scopeKey, entry.key]);
          return 'skipped';
        }
      } catch (err) {
        this.onError(err, 'store');
        return 'skipped';
      }
    }
    let idx = this.scopes.get(keys.scopeKey);
    // Memory only: the index is the store. With a table, an unloaded scope picks the row up when it loads.
    if (!idx && !this.db) idx = this.install(keys.scopeKey, new ScopeIndex(scope.tenant, scope.agent, now));
    idx?.put(entry, entry.group ? embedding?.vector : undefined, this.maxEntriesPerScope, now);
    return entry.group ? 'stored_semantic' : 'stored_exact';
  }

  /** Deletes a tenant's (or one agent's) rows and drops their indexes; resolves the number of rows (or entries, memory only) removed. */
  /** `q`: an open transaction to delete the rows in (so an audit row commits with them); the cache's own pool otherwise. */
  async invalidate(target: { tenant: string; agent?: string }, q?: { query(sql: string, params?: unknown[]): Promise<unknown> }): Promise<number> {
    this.tenantGen.set(target.tenant, this.gen(target.tenant) + 1);
    let dropped = 0;
    for (const [k, idx] of this.scopes) {
      if (idx.tenant !== target.tenant || (target.agent !== undefined && idx.agent !== target.agent)) continue;
      dropped += idx.entries.size;
      this.scopes.delete(k);
    }
    const db = q ?? this.db;
    if (!db) return dropped;
    const rows = (target.agent === undefined
      ? await db.query('WITH d AS (DELETE FROM router.response_cache WHERE tenant = $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [target.tenant])
      : await db.query('WITH d AS (DELETE FROM router.response_cache WHERE tenant = $1 AND agent = $2 RETURNING 1) SELECT count(*)::int AS n FROM d', [target.tenant, target.agent])) as { n: number }[];
    return rows[0]?.n ?? 0;
  }

  /**
   * Deletes a user's cached answers (their partition, in every agent of the tenant) for the deletion
   * of their memory. The tenant's in-memory indexes are dropped too (they reload from the table), and
   * a store racing this call is discarded like one racing an invalidation.
   */
  async forgetUser(tenant: string, userId: string, q?: { query(sql: string, params?: unknown[]): Promise<unknown> }): Promise<number> {
    this.tenantGen.set(tenant, this.gen(tenant) + 1);
    let dropped = 0;
    for (const [k, idx] of this.scopes) {
      if (idx.tenant !== tenant) continue;
      dropped += idx.entries.size;
      this.scopes.delete(k);
    }
    const db = q ?? this.db;
    if (!db) return dropped;
    const rows = (await db.query('WITH d AS (DELETE FROM router.response_cache WHERE tenant = $1 AND user_id = $2 RETURNING 1) SELECT count(*)::int AS n FROM d', [tenant, userId])) as { n: number }[];
    return rows[0]?.n ?? 0;
  }

  /** Deletes expired rows; for a periodic job (expired entries are never served either way). */
  async purgeExpired(): Promise<number> {
    const now = this.now();
    for (const idx of this.scopes.values()) {
      for (const e of [...idx.entries.values()]) if (e.expiresAt <= now) idx.remove(e.key);
    }
    if (!this.db) return 0;
    const rows: { n: number }[] = await this.db.query(
      'WITH d AS (DELETE FROM router.response_cache WHERE expires_at <= to_timestamp($1 / 1000.0) RETURNING 1) SELECT count(*)::int AS n FROM d', [now]);
    return rows[0]?.n ?? 0;
  }

  /** Entries held in memory, for metrics and tests. */
  stats(): { scopes: number; entries: number } {
    let entries = 0;
    for (const idx of this.scopes.values()) entries += idx.entries.size;
    return { scopes: this.scopes.size, entries };
  }

  private plan(keys: CacheKeys, r: CompleteResponse): { key: string; semantic: boolean } | null {
    if (r.toolCalls.length > 0 || r.finishReason === 'tool_calls') return { key: keys.rawKey, semantic: false };
    if (r.content === null) return null;
    if (r.finishReason === 'length') return { key: keys.exactKey, semantic: false };
    return { key: keys.exactKey, semantic: keys.semantic !== undefined };
  }

  private async serve(idx: ScopeIndex, scopeKey: string, e: Entry, kind: CacheHitKind, similarity: number, now: number): Promise<CacheHit | null> {
    const parsed = CompleteResponseSchema.safeParse(e.response);
    if (!parsed.success) {
      idx.remove(e.key);
      return null;
    }
    if (this.verifyHits && this.db) {
      try {
        const rows: unknown[] = await this.db.query(
          'SELECT 1 FROM router.response_cache WHERE scope = $1 AND key_hash = $2 AND expires_at > to_timestamp($3 / 1000.0)', [scopeKey, e.key, now]);
        if (rows.length === 0) {
          idx.remove(e.key);
          return null;
        }
      } catch (err) {
        this.onError(err, 'verify');
        return null;
      }
    }
    return { response: parsed.data, kind, similarity, ageMs: Math.max(0, now - e.createdAt) };
  }

  private gen(tenant: string): number {
    return this.tenantGen.get(tenant) ?? 0;
  }

  private async embed(text: string): Promise<Embedding | null> {
    let p = this.embedMemo.get(text);
    if (!p) {
      if (this.embedMemo.size >= EMBED_MEMO_SIZE) this.embedMemo.clear();
      p = this.embedder.embed(text);
      this.embedMemo.set(text, p);
    }
    try {
      return await p;
    } catch (err) {
      this.embedMemo.delete(text);
      this.onError(err, 'embed');
      return null;
    }
  }

  private install(scopeKey: string, idx: ScopeIndex): ScopeIndex {
    this.scopes.delete(scopeKey);
    this.scopes.set(scopeKey, idx);
    while (this.scopes.size > this.maxScopes) {
      const lru = this.scopes.keys().next().value;
      if (lru === undefined) break;
      this.scopes.delete(lru);
    }
    return idx;
  }

  private async index(scopeKey: string, scope: CacheScope): Promise<ScopeIndex | null> {
    const now = this.now();
    const idx = this.scopes.get(scopeKey);
    if (idx && (!this.db || now - idx.loadedAt < this.reloadAfterMs)) return this.install(scopeKey, idx);
    // Memory only: a scope exists once something is stored in it.
    if (!this.db) return null;
    let p = this.loading.get(scopeKey);
    if (!p) {
      p = this.load(this.db, scopeKey, scope).finally(() => this.loading.delete(scopeKey));
      this.loading.set(scopeKey, p);
    }
    return p;
  }

  /** Newest first, bounded: a scope larger than the bound keeps its most recent answers. */
  private async load(db: DataSource, scopeKey: string, scope: CacheScope): Promise<ScopeIndex | null> {
    const gen = this.gen(scope.tenant);
    const now = this.now();
    let rows: Row[];
    try {
      rows = await db.query(
        `SELECT key_hash, semantic_group, embedding, response,
                (extract(epoch FROM created_at) * 1000)::float8 AS created_ms, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
           FROM router.response_cache
          WHERE scope = $1 AND expires_at > to_timestamp($2 / 1000.0)
          ORDER BY created_at DESC LIMIT $3`,
        [scopeKey, now, this.maxEntriesPerScope],
      );
    } catch (err) {
      this.onError(err, 'load');
      return null;
    }
    // Rows read before an invalidation finished may be the deleted ones: answer a miss rather than them.
    if (this.gen(scope.tenant) !== gen) return null;
    const idx = new ScopeIndex(scope.tenant, scope.agent, now);
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i];
      const entry: Entry = {
        key: row.key_hash,
        group: row.semantic_group ?? undefined,
        response: row.response,
        createdAt: Number(row.created_ms),
        expiresAt: Number(row.expires_ms),
      };
      const vector = row.embedding ? Float32Array.from(row.embedding) : undefined;
      try {
        idx.put(entry, vector, this.maxEntriesPerScope, now);
      } catch (err) {
        // A row whose vector does not fit its group (an embedder changed dimension) is skipped, not fatal.
        this.onError(err, 'load');
      }
    }
    return this.install(scopeKey, idx);
  }
}

function groupKey(contextHash: string, embeddingModel: string): string {
  return `${contextHash}|${embeddingModel}`;
}

function contextOf(group: string): string {
  return group.slice(0, group.indexOf('|'));
}
