import type { ChatMessage, CompleteResponse, ToolSpec } from '@keel/contracts';
import type { CacheableRequest, CacheScope } from './cache-key';
import type { Embedder } from '@keel/text';
import { LocalEmbedder } from '@keel/text';
import { ResponseCache, SemanticGroup } from './response-cache';

const tools: ToolSpec[] = [{ name: 'calculator', description: 'arithmetic', parameters: { type: 'object' } }];
const alice: CacheScope = { tenant: 't1', agent: 'support', userId: 'alice', taskId: 'task-a1' };
const bob: CacheScope = { tenant: 't1', agent: 'support', userId: 'bob', taskId: 'task-b1' };
const ask = (user: string, history: ChatMessage[] = []): CacheableRequest => ({
  model: 'openai/gpt-4o-mini',
  messages: [{ role: 'system', content: 'You are a support agent.' }, ...history, { role: 'user', content: user }],
  tools,
});
const answer = (content: string, over: Partial<CompleteResponse> = {}): CompleteResponse => ({
  model: 'openai/gpt-4o-mini', content, toolCalls: [], finishReason: 'stop', usage: { inputTokens: 10, outputTokens: 5 }, costUsd: 0.001, attempts: [{ attempt: 1, latencyMs: 120 }], scriptTurnsConsumed: 0, ...over,
});

const Q = 'Can you tell me what the weather forecast is for Paris tomorrow morning?';
const Q_NEAR = 'can you tell me what the weather forecast is for Paris tomorrow morning';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

describe('ResponseCache (memory only)', () => {
  it('answers the same request exactly, and a whitespace variant too', async () => {
    const c = clock();
    const cache = new ResponseCache({ now: c.now });
    expect(await cache.lookup(alice, ask(Q))).toBeNull();
    expect(await cache.store(alice, ask(Q), answer('Sunny, 21 °C.'))).toBe('stored_semantic');
    c.advance(1500);
    expect(await cache.lookup(alice, ask(Q))).toEqual({ response: answer('Sunny, 21 °C.'), kind: 'exact', similarity: 1, ageMs: 1500 });
    expect((await cache.lookup(alice, ask(`  ${Q.replace(/ /g, '  ')} `)))?.kind).toBe('exact');
  });

  it('answers a near-identical request semantically, with its similarity', async () => {
    const cache = new ResponseCache();
    await cache.store(alice, ask(Q), answer('Sunny.'));
    const hit = await cache.lookup(alice, ask(Q_NEAR));
    expect(hit?.kind).toBe('semantic');
    expect(hit?.similarity).toBeGreaterThanOrEqual(0.95);
    expect(hit?.similarity).toBeLessThanOrEqual(1);
    expect(hit?.response.content).toBe('Sunny.');
    expect(await cache.lookup(alice, ask('How do I reset my password?'))).toBeNull();
  });

  describe('two near-identical requests from different users never share an entry', () => {
    it('neither exactly nor semantically, in either direction', async () => {
      const cache = new ResponseCache();
      await cache.store(alice, ask(Q), answer('for alice'));
      expect(await cache.lookup(bob, ask(Q))).toBeNull();
      expect(await cache.lookup(bob, ask(Q_NEAR))).toBeNull();
      await cache.store(bob, ask(Q_NEAR), answer('for bob'));
      expect((await cache.lookup(bob, ask(Q)))?.response.content).toBe('for bob');
      expect((await cache.lookup(alice, ask(Q_NEAR)))?.response.content).toBe('for alice');
      expect((await cache.lookup(alice, ask(Q)))?.response.content).toBe('for alice');
    });

    it('even with a threshold of 0.9 and a history that differs only per user', async () => {
      const cache = new ResponseCache({ similarity: 0.9 });
      const hist = (name: string): ChatMessage[] => [{ role: 'user', content: `My name is ${name}.` }, { role: 'assistant', content: `Hello ${name}.` }];
      await cache.store(alice, ask('What is my name?', hist('Alice')), answer('Alice'));
      expect(await cache.lookup(bob, ask('What is my name?', hist('Alice')))).toBeNull();
      expect(await cache.lookup(bob, ask('what is my name', hist('Alice')))).toBeNull();
    });

    it('while the same user hits across their own tasks', async () => {
      const cache = new ResponseCache();
      await cache.store(alice, ask(Q), answer('for alice'));
      const otherTask = { ...alice, taskId: 'task-a2' };
      expect((await cache.lookup(otherTask, ask(Q)))?.kind).toBe('exact');
      expect((await cache.lookup(otherTask, ask(Q_NEAR)))?.kind).toBe('semantic');
    });

    it('and requests without a user id share only within their task', async () => {
      const cache = new ResponseCache();
      const anon1 = { tenant: 't1', agent: 'support', taskId: 'task-1' };
      await cache.store(anon1, ask(Q), answer('x'));
      expect(await cache.lookup(anon1, ask(Q_NEAR))).not.toBeNull();
      expect(await cache.lookup({ ...anon1, taskId: 'task-2' }, ask(Q))).toBeNull();
      expect(await cache.lookup({ ...anon1, userId: 'alice' }, ask(Q))).toBeNull();
    });
  });

  it('keeps tenants, agents, tool sets and models apart', async () => {
    const cache = new ResponseCache();
    await cache.store(alice, ask(Q), answer('x'));
    expect(await cache.lookup({ ...alice, tenant: 't2' }, ask(Q))).toBeNull();
    expect(await cache.lookup({ ...alice, agent: 'sales' }, ask(Q))).toBeNull();
    expect(await cache.lookup(alice, { ...ask(Q_NEAR), tools: [] })).toBeNull();
    expect(await cache.lookup(alice, { ...ask(Q_NEAR), model: 'openai/gpt-4o' })).toBeNull();
    expect(await cache.lookup(alice, { ...ask(Q_NEAR), params: { temperature: 1 } })).toBeNull();
  });

  it('matches semantically only when everything before the question is equal, numbers included', async () => {
    const cache = new ResponseCache();
    await cache.store(alice, ask('Please transfer 100 EUR to the savings account of Bob Smith today.'), answer('done'));
    expect(await cache.lookup(alice, ask('please transfer 900 EUR to the savings account of Bob Smith today'))).toBeNull();
    expect(await cache.lookup(alice, ask('please transfer 100 EUR to the savings account of Bob Smith today'))).not.toBeNull();
    const earlier: ChatMessage[] = [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }];
    expect(await cache.lookup(alice, ask('please transfer 100 EUR to the savings account of Bob Smith today', earlier))).toBeNull();
  });

  it('caches tool-calling turns for byte-identical requests only', async () => {
    const cache = new ResponseCache();
    const call = answer('', { content: null, toolCalls: [{ id: 'call_1', name: 'calculator', arguments: { expr: '2+2' } }], finishReason: 'tool_calls' });
    expect(await cache.store(alice, ask('What is 2+2?'), call)).toBe('stored_exact');
    expect((await cache.lookup(alice, ask('What is 2+2?')))?.response.toolCalls).toHaveLength(1);
    expect(await cache.lookup(alice, ask('What is  2+2?'))).toBeNull();
    expect(await cache.lookup(alice, ask('what is 2+2'))).toBeNull();
  });

  it('caches truncated answers exactly, never semantically', async () => {
    const cache = new ResponseCache();
    expect(await cache.store(alice, ask(Q), answer('Sunny and', { finishReason: 'length' }))).toBe('stored_exact');
    expect((await cache.lookup(alice, ask(Q)))?.kind).toBe('exact');
    expect(await cache.lookup(alice, ask(Q_NEAR))).toBeNull();
  });

  it('never caches errors or invalid responses', async () => {
    const cache = new ResponseCache();
    expect(await cache.store(alice, ask(Q), answer('x', { content: null }))).toBe('skipped');
    const notAResponse = { code: 'provider_error', message: 'boom' } as unknown as CompleteResponse;
    expect(await cache.store(alice, ask(Q), notAResponse)).toBe('skipped');
    expect(await cache.store(alice, ask(Q), answer('x', { costUsd: -1 }))).toBe('skipped');
    expect(await cache.lookup(alice, ask(Q))).toBeNull();
    expect(cache.stats()).toEqual({ scopes: 0, entries: 0 });
  });

  it('expires entries after the TTL, exact and semantic', async () => {
    const c = clock();
    const cache = new ResponseCache({ now: c.now, ttlMs: 60_000 });
    await cache.store(alice, ask(Q), answer('x'));
    c.advance(59_999);
    expect((await cache.lookup(alice, ask(Q)))?.ageMs).toBe(59_999);
    c.advance(1);
    expect(await cache.lookup(alice, ask(Q_NEAR))).toBeNull();
    expect(await cache.lookup(alice, ask(Q))).toBeNull();
    await cache.store(alice, ask(Q), answer('fresh'));
    expect((await cache.lookup(alice, ask(Q)))?.response.content).toBe('fresh');
  });

  it('purgeExpired drops expired entries from memory', async () => {
    const c = clock();
    const cache = new ResponseCache({ now: c.now, ttlMs: 1000 });
    await cache.store(alice, ask(Q), answer('x'));
    await cache.store(alice, ask('other'), answer('y'));
    c.advance(1000);
    await cache.purgeExpired();
    expect(cache.stats().entries).toBe(0);
  });

  it('invalidates a tenant, or one agent of it', async () => {
    const cache = new ResponseCache();
    const sales = { ...alice, agent: 'sales' };
    const other = { ...alice, tenant: 't2' };
    for (const s of [alice, bob, sales, other]) await cache.store(s, ask(Q), answer('x'));
    expect(await cache.invalidate({ tenant: 't1', agent: 'support' })).toBe(2);
    expect(await cache.lookup(alice, ask(Q))).toBeNull();
    expect(await cache.lookup(bob, ask(Q_NEAR))).toBeNull();
    expect(await cache.lookup(sales, ask(Q))).not.toBeNull();
    expect(await cache.invalidate({ tenant: 't1' })).toBe(1);
    expect(await cache.lookup(sales, ask(Q))).toBeNull();
    expect(await cache.lookup(other, ask(Q))).not.toBeNull();
  });

  it('refuses a similarity below 0.9 and a non-positive TTL', () => {
    expect(() => new ResponseCache({ similarity: 0.89 })).toThrow(RangeError);
    expect(() => new ResponseCache({ similarity: 1.01 })).toThrow(RangeError);
    expect(() => new ResponseCache({ ttlMs: 0 })).toThrow(RangeError);
  });

  it('bounds each scope and the number of scopes', async () => {
    const c = clock();
    const cache = new ResponseCache({ now: c.now, maxEntriesPerScope: 20, maxScopes: 3 });
    for (let i = 0; i < 25; i++) {
      await cache.store(alice, ask(`question number ${i}`), answer(`a${i}`));
      c.advance(1);
    }
    expect(cache.stats().entries).toBeLessThanOrEqual(20);
    expect(await cache.lookup(alice, ask('question number 0'))).toBeNull();
    expect((await cache.lookup(alice, ask('question number 24')))?.response.content).toBe('a24');
    for (const u of ['u1', 'u2', 'u3']) await cache.store({ ...alice, userId: u }, ask(Q), answer(u));
    expect(cache.stats().scopes).toBe(3);
    expect(await cache.lookup(alice, ask(Q))).toBeNull();
  });

  it('embeds a text once for lookup then store, and misses when embedding fails', async () => {
    const local = new LocalEmbedder();
    let calls = 0;
    let fail = false;
    const embedder: Embedder = { model: local.model, embed: async (t) => { calls++; if (fail) throw new Error('down'); return local.embed(t); } };
    const errors: string[] = [];
    const cache = new ResponseCache({ embedder, onError: (_e, op) => errors.push(op) });
    await cache.lookup(alice, ask(Q));
    expect(calls).toBe(0); // nothing in the scope could match: no embedding asked for
    await cache.store(alice, ask(Q), answer('x'));
    expect(calls).toBe(1);
    expect((await cache.lookup(alice, ask(Q_NEAR)))?.kind).toBe('semantic');
    expect(calls).toBe(2);
    await cache.store(alice, ask(Q_NEAR), answer('y'));
    expect(calls).toBe(2); // the lookup's embedding is reused
    fail = true;
    expect(await cache.lookup(alice, ask('can you tell me what the weather forecast is for Paris tomorrow morning ?!'))).toBeNull();
    expect(errors).toEqual(['embed']);
  });

  it('never compares vectors of different embedders', async () => {
    const local = new LocalEmbedder();
    let model = 'openai:text-embedding-3-small';
    // As when the remote endpoint fails and the local fallback answers: the vectors must not meet.
    const switching: Embedder = { get model() { return model; }, embed: async (t) => ({ vector: (await local.embed(t)).vector, model }) };
    const cache = new ResponseCache({ embedder: switching });
    await cache.store(alice, ask(Q), answer('x'));
    model = local.model;
    expect(await cache.lookup(alice, ask(Q_NEAR))).toBeNull();
    model = 'openai:text-embedding-3-small';
    expect((await cache.lookup(alice, ask(`${Q} `)))?.kind).toBe('exact');
    expect((await cache.lookup(alice, ask(`${Q_NEAR}!`)))?.kind).toBe('semantic');
  });
});

describe('SemanticGroup', () => {
  const unit = (xs: number[]) => { const n = Math.hypot(...xs); return Float32Array.from(xs.map((x) => x / n)); };
  const entry = (key: string, expiresAt = Infinity) => ({ key, response: null, createdAt: 0, expiresAt });

  it('returns the most similar live entry above the threshold', () => {
    const g = new SemanticGroup(3, 1);
    g.upsert(entry('a'), unit([1, 0, 0]));
    g.upsert(entry('b'), unit([1, 0.2, 0]));
    g.upsert(entry('c'), unit([1, 0.05, 0], ), );
    g.upsert(entry('d', 5), unit([1, 0.01, 0]));
    const best = g.search(unit([1, 0.04, 0]), 0.95, 10);
    expect(best?.entry.key).toBe('c');
    expect(best?.similarity).toBeGreaterThan(0.999);
    expect(g.search(unit([0, 1, 0]), 0.95, 10)).toBeNull();
    expect(g.search(unit([1, 0]), 0.95, 10)).toBeNull();
  });

  it('agrees with a brute-force cosine scan on vectors longer than the prefix', () => {
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
    const dim = 100;
    const vecs = Array.from({ length: 400 }, () => unit(Array.from({ length: dim }, rnd)));
    const g = new SemanticGroup(dim, 4);
    vecs.forEach((v, i) => g.upsert(entry(String(i)), v));
    for (let i = 0; i < 100; i += 7) g.remove(String(i));
    for (const target of [3, 150, 399]) {
      const q = unit(Array.from(vecs[target], (x, k) => x + (k % 9 === 0 ? 0.02 : 0)));
      let bestKey = '';
      let bestCos = -1;
      vecs.forEach((v, i) => {
        if (i < 100 && i % 7 === 0) return;
        const c = v.reduce((acc, x, k) => acc + x * q[k], 0);
        if (c > bestCos) [bestCos, bestKey] = [c, String(i)];
      });
      const found = g.search(q, 0.95, 0);
      expect(found?.entry.key).toBe(bestKey);
      expect(found?.similarity).toBeCloseTo(bestCos, 4);
    }
    expect(g.search(unit(Array.from({ length: dim }, rnd)), 0.95, 0)).toBeNull();
  });

  it('removes by swapping the last entry in', () => {
    const g = new SemanticGroup(2);
    g.upsert(entry('a'), unit([1, 0]));
    g.upsert(entry('b'), unit([0, 1]));
    g.remove('a');
    expect(g.size).toBe(1);
    expect(g.search(unit([0, 1]), 0.99, 0)?.entry.key).toBe('b');
    expect(g.search(unit([1, 0]), 0.99, 0)).toBeNull();
    expect(() => g.upsert(entry('x'), unit([1, 0, 0]))).toThrow(/dimension/);
  });
});
