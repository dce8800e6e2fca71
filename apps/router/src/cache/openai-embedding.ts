import { z } from 'zod';
import { envInt } from '@keel/config';
import { l2Normalise, LocalEmbedder } from '@keel/text';
import type { Embedder, Embedding } from '@keel/text';

/** Environment of the response cache; the integrator merges it into `routerEnv`. */
export const cacheEnv = z.object({
  /** Time to live of a cached answer. */
  KEEL_CACHE_TTL_MS: envInt(3_600_000, 1_000, 30 * 24 * 3_600_000),
  /** Cosine similarity a semantic hit needs; never below 0.9 (looser matches answer the wrong question). */
  KEEL_CACHE_SIMILARITY: z.string().regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number between 0.9 and 1').optional()
    .transform((v) => (v === undefined ? 0.95 : Number(v)))
    .pipe(z.number().min(0.9).max(1)),
  /** OpenAI-compatible API root (…/v1); unset → the built-in local embedding. */
  KEEL_EMBEDDINGS_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  KEEL_EMBEDDINGS_API_KEY: z.string().optional(),
  KEEL_EMBEDDINGS_MODEL: z.string().min(1).default('text-embedding-3-small'),
  /** A slow embedding endpoint must not slow every model call: past this, the local one answers. */
  KEEL_EMBEDDINGS_TIMEOUT_MS: envInt(2_000, 50, 60_000),
});
export type CacheEnv = z.output<typeof cacheEnv>;

const EmbeddingsResponseSchema = z.object({
  data: z.array(z.object({ embedding: z.array(z.number()).min(1), index: z.number().int().optional() })).min(1),
});

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<{
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}>;

export interface OpenAiEmbedderOptions {
  baseUrl: string;
  apiKey?: string;
  model: string;
  timeoutMs?: number;
  /** Answers when the endpoint fails; its vectors carry its own model id, so they are never compared with the remote ones. */
  fallback?: Embedder;
  fetch?: FetchLike;
  onFallback?: (err: unknown) => void;
}

/**
 * Client of an OpenAI-compatible `POST {baseUrl}/embeddings`. On any failure
 * (network, status, timeout, malformed body) it answers with the fallback:
 * the cache degrades to local matching instead of failing the model call.
 */
export class OpenAiEmbedder implements Embedder {
  readonly model: string;
  private readonly url: string;
  private readonly fallback: Embedder;
  private readonly fetch: FetchLike;

  constructor(private readonly opts: OpenAiEmbedderOptions) {
    this.model = `openai:${opts.model}`;
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/embeddings`;
    this.fallback = opts.fallback ?? new LocalEmbedder();
    this.fetch = opts.fetch ?? ((url, init) => fetch(url, init));
  }

  async embed(text: string): Promise<Embedding> {
    try {
      return { model: this.model, vector: await this.remote(text) };
    } catch (err) {
      this.opts.onFallback?.(err);
      return this.fallback.embed(text);
    }
  }

  private async remote(text: string): Promise<Float32Array> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    const res = await this.fetch(this.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: this.opts.model, input: text }),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2_000),
    });
    if (!res.ok) throw new Error(`embeddings endpoint answered ${res.status}`);
    const body = EmbeddingsResponseSchema.parse(await res.json());
    return l2Normalise(body.data[0].embedding);
  }
}

/** The configured embedder: the remote one when a base URL is set, else the local one. */
export function createEmbedder(env: CacheEnv, deps: { fetch?: FetchLike; onFallback?: (err: unknown) => void } = {}): Embedder {
  const local = new LocalEmbedder();
  if (!env.KEEL_EMBEDDINGS_BASE_URL) return local;
  return new OpenAiEmbedder({
    baseUrl: env.KEEL_EMBEDDINGS_BASE_URL,
    apiKey: env.KEEL_EMBEDDINGS_API_KEY,
    model: env.KEEL_EMBEDDINGS_MODEL,
    timeoutMs: env.KEEL_EMBEDDINGS_TIMEOUT_MS,
    fallback: local,
    ...deps,
  });
}
