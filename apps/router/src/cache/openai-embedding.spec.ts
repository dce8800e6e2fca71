import { parseEnv } from '@keel/config';
import { LOCAL_EMBEDDING_MODEL, localEmbed } from '@keel/text';
import { cacheEnv, createEmbedder, OpenAiEmbedder } from './openai-embedding';
import type { FetchLike } from './openai-embedding';

interface Call { url: string; headers: Record<string, string>; body: unknown }

function fakeFetch(answer: (call: Call) => { status: number; body: unknown }): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    const call = { url, headers: init.headers, body: JSON.parse(init.body) as unknown };
    calls.push(call);
    const { status, body } = answer(call);
    return { ok: status >= 200 && status < 300, status, json: async () => body };
  };
  return { fetch, calls };
}

describe('OpenAI-compatible embeddings', () => {
  it('posts to {base}/embeddings with model and key, and normalises the vector', async () => {
    const { fetch, calls } = fakeFetch(() => ({ status: 200, body: { data: [{ index: 0, embedding: [3, 0, 4] }], model: 'm' } }));
    const e = new OpenAiEmbedder({ baseUrl: 'https://emb.example.com/v1/', apiKey: 'sk-test', model: 'text-embedding-3-small', fetch });
    const out = await e.embed('hello');
    expect(calls).toEqual([{ url: 'https://emb.example.com/v1/embeddings', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' }, body: { model: 'text-embedding-3-small', input: 'hello' } }]);
    expect(out.model).toBe('openai:text-embedding-3-small');
    expect(Array.from(out.vector)).toEqual([Math.fround(0.6), 0, Math.fround(0.8)]);
  });

  it.each([
    ['an error status', () => ({ status: 500, body: { error: 'boom' } })],
    ['a malformed body', () => ({ status: 200, body: { data: [] } })],
    ['a network failure', () => { throw new Error('ECONNREFUSED'); }],
  ])('falls back to the local embedding on %s', async (_name, answer) => {
    const { fetch } = fakeFetch(answer);
    const errors: unknown[] = [];
    const e = new OpenAiEmbedder({ baseUrl: 'http://127.0.0.1:1', model: 'm', fetch, onFallback: (err) => errors.push(err) });
    const out = await e.embed('hello');
    expect(out.model).toBe(LOCAL_EMBEDDING_MODEL);
    expect(Array.from(out.vector)).toEqual(Array.from(localEmbed('hello')));
    expect(errors).toHaveLength(1);
  });

  it('falls back when the endpoint is slower than the timeout', async () => {
    const fetch: FetchLike = (_url, init) => new Promise((_resolve, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    const out = await new OpenAiEmbedder({ baseUrl: 'http://x', model: 'm', fetch, timeoutMs: 20 }).embed('hi');
    expect(out.model).toBe(LOCAL_EMBEDDING_MODEL);
  });

  it('is chosen only when a base URL is configured', () => {
    expect(createEmbedder(parseEnv(cacheEnv, {})).model).toBe(LOCAL_EMBEDDING_MODEL);
    const env = parseEnv(cacheEnv, { KEEL_EMBEDDINGS_BASE_URL: 'https://api.openai.com/v1', KEEL_EMBEDDINGS_MODEL: 'text-embedding-3-large' });
    expect(createEmbedder(env).model).toBe('openai:text-embedding-3-large');
  });
});

describe('cache environment', () => {
  it('defaults to a 1 h TTL and 0.95 similarity', () => {
    expect(parseEnv(cacheEnv, {})).toMatchObject({ KEEL_CACHE_TTL_MS: 3_600_000, KEEL_CACHE_SIMILARITY: 0.95, KEEL_EMBEDDINGS_MODEL: 'text-embedding-3-small', KEEL_EMBEDDINGS_TIMEOUT_MS: 2000 });
  });

  it('refuses a similarity below 0.9 or a non-http embeddings URL', () => {
    expect(parseEnv(cacheEnv, { KEEL_CACHE_SIMILARITY: '0.97' }).KEEL_CACHE_SIMILARITY).toBe(0.97);
    expect(() => parseEnv(cacheEnv, { KEEL_CACHE_SIMILARITY: '0.8' })).toThrow(/KEEL_CACHE_SIMILARITY/);
    expect(() => parseEnv(cacheEnv, { KEEL_CACHE_SIMILARITY: 'high' })).toThrow(/KEEL_CACHE_SIMILARITY/);
    expect(() => parseEnv(cacheEnv, { KEEL_EMBEDDINGS_BASE_URL: 'ftp://x' })).toThrow(/KEEL_EMBEDDINGS_BASE_URL/);
  });
});
