import type { FactoryProvider } from '@nestjs/common';
import { DataSource } from '@keel/persistence';
import { ENV, LOGGER } from '@keel/service-kit';
import { counter } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { createEmbedder } from './openai-embedding';
import type { CacheEnv } from './openai-embedding';
import { ResponseCache } from './response-cache';

export const RESPONSE_CACHE = Symbol('keel:response-cache');
const embeddingFallbacks = counter('keel_cache_embedding_fallbacks_total', 'Embeddings computed locally because the embeddings endpoint failed');

/** One response cache per router process, written through to `router.response_cache`. */
export const responseCacheProvider: FactoryProvider<ResponseCache> = {
  provide: RESPONSE_CACHE,
  inject: [DataSource, ENV, LOGGER],
  useFactory: (db: DataSource, env: CacheEnv, logger: Logger) => new ResponseCache({
    db,
    embedder: createEmbedder(env, { onFallback: () => embeddingFallbacks.inc() }),
    ttlMs: env.KEEL_CACHE_TTL_MS,
    similarity: env.KEEL_CACHE_SIMILARITY,
    onError: (err, op) => logger.warn({ err, op }, 'response cache error (treated as a miss)'),
  }),
};
