export { countTextTokens, countPromptTokens, countOutputTokens, clearTokenCountCache, TOKENS_PER_MESSAGE, TOKENS_PER_REPLY } from './token-counter';
export { TokenCountCache, DEFAULT_TOKEN_CACHE_ENTRIES, DEFAULT_TOKEN_CACHE_CHARS, DEFAULT_TOKEN_CACHE_KEY_CHARS } from './token-cache';
export type { TokenCacheOptions } from './token-cache';
export { LocalEmbedder, localEmbed, cosine, l2Normalise, prepareForEmbedding, LOCAL_EMBEDDING_DIM, LOCAL_EMBEDDING_MODEL } from './local-embedding';
export type { Embedding, Embedder } from './local-embedding';
