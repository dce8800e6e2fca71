import type { CompleteResponse } from '@keel/contracts';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { Cache1764000000020 } from '../migrations/1764000000020-cache';
import { CacheUser1764000000050 } from '../migrations/1764000000050-cache-user';
import type { CacheableRequest, CacheScope } from './cache-key';
import { cacheKeys } from './cache-key';
import { ResponseCache } from './response-cache';

const alice: CacheScope = { tenant: 't1', agent: 'support', userId: 'alice', taskId: 'task-1' };
const bob: CacheScope = { ...alice, userId: 'bob', taskId: 'task-2' };
const ask = (user: string): CacheableRequest => ({ model: 'openai/gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: user }], tools: [] });
const answer = (content: string, over: Partial<CompleteResponse> = {}): CompleteResponse => ({
  model: 'openai/gpt-4o-mini', content, toolCalls: [], finishReason: 'stop', usage: { inputTokens: 3, outputTokens: 2 }, costUsd: 0, attempts: [{ attempt: 1, latencyMs: 5 }], scriptTurnsConsumed: 0, ...over,
});
const Q = 'Can you tell me what the weather forecast is for Paris tomorrow morning?';
const Q_NEAR = 'can you tell me what the weather forecast is for Paris tomorrow morning';

describe('ResponseCache on real Postgres', () => {
  let tdb: TestDatabase;
  let db: DataSource;
  let t = 1_700_000_000_000;
  const now = () => t;
  const fresh = (opts: { verifyHits?: boolean } = {}) => new ResponseCache({ db, now, ttlMs: 60_000, ...opts });

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = await openDatabase({ url: tdb.url, schema: 'router', migrations: [Cache1764000000020, CacheUser1764000000050] });
    expect(await migrate(db, 'router')).toEqual(['Cache1764000000020', 'CacheUser1764000000050']);
  });

  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  beforeEach(async () => {
    await db.query('DELETE FROM router.response_cache');
  });

  it('writes through and a new instance (a restart) answers from the table', async () => {
    const first = fresh();
    expect(await first.store(alice, ask(Q), answer('sunny'))).toBe('stored_semantic');
    const call = answer('', { content: null, toolCalls: [{ id: 'call_1', name: 'weather', arguments: { city: 'Paris' } }], finishReason: 'tool_calls' });
    expect(await first.store(alice, ask('Weather in Paris?'), call)).toBe('stored_exact');

    const rows: { scope: string; key_hash: string; tenant: string; agent: string; dims: number | null; content: string | null }[] = await db.query(
      "SELECT scope, key_hash, tenant, agent, array_length(embedding, 1) AS dims, response->>'content' AS content FROM router.response_cache ORDER BY key_hash");
    const keys = cacheKeys(alice, ask(Q));
    expect(rows).toEqual([
      { scope: keys.scopeKey, key_hash: keys.exactKey, tenant: 't1', agent: 'support', dims: 384, content: 'sunny' },
      { scope: keys.scopeKey, key_hash: cacheKeys(alice, ask('Weather in Paris?')).rawKey, tenant: 't1', agent: 'support', dims: null, content: null },
    ]);

    t += 5_000;
    const restarted = fresh();
    expect(await restarted.lookup(alice, ask(Q))).toEqual({ response: answer('sunny'), kind: 'exact', similarity: 1, ageMs: 5_000 });
    const near = await restarted.lookup({ ...alice, taskId: 'task-9' }, ask(Q_NEAR));
    expect(near?.kind).toBe('semantic');
    expect(near?.similarity).toBeGreaterThanOrEqual(0.95);
    expect((await restarted.lookup(alice, ask('Weather in Paris?')))?.response.toolCalls[0].arguments).toEqual({ city: 'Paris' });
    // Different user, same near-identical text: never served from alice's rows.
    expect(await restarted.lookup(bob, ask(Q))).toBeNull();
    expect(await restarted.lookup(bob, ask(Q_NEAR))).toBeNull();
  });

  it('does not load or serve expired rows after a restart', async () => {
    await fresh().store(alice, ask(Q), answer('old'));
    t += 60_000;
    const restarted = fresh();
    expect(await restarted.lookup(alice, ask(Q))).toBeNull();
    expect(await restarted.purgeExpired()).toBe(1);
  });

  it('upserts the same key', async () => {
    const c = fresh();
    await c.store(alice, ask(Q), answer('v1'));
    await c.store(alice, ask(Q), answer('v2'));
    expect(await db.query('SELECT count(*)::int AS n FROM router.response_cache')).toEqual([{ n: 1 }]);
    expect((await fresh().lookup(alice, ask(Q)))?.response.content).toBe('v2');
  });

  it('invalidates rows and indexes, and other replicas stop serving at once', async () => {
    const a = fresh();
    const replica = fresh();
    await a.store(alice, ask(Q), answer('x'));
    await a.store({ ...alice, agent: 'sales' }, ask(Q), answer('y'));
    await a.store({ ...alice, tenant: 't2' }, ask(Q), answer('z'));
    expect(await replica.lookup(alice, ask(Q))).not.toBeNull(); // the replica has loaded the scope

    expect(await a.invalidate({ tenant: 't1', agent: 'support' })).toBe(1);
    expect(await a.lookup(alice, ask(Q))).toBeNull();
    // The replica's index still holds the entry; the hit check against the table refuses it.
    expect(await replica.lookup(alice, ask(Q))).toBeNull();
    expect(await replica.lookup(alice, ask(Q_NEAR))).toBeNull();
    expect((await a.lookup({ ...alice, agent: 'sales' }, ask(Q)))?.response.content).toBe('y');

    expect(await a.invalidate({ tenant: 't1' })).toBe(1);
    expect(await fresh().lookup({ ...alice, agent: 'sales' }, ask(Q))).toBeNull();
    expect((await fresh().lookup({ ...alice, tenant: 't2' }, ask(Q)))?.response.content).toBe('z');
  });

  it('forgets one user: their rows in every agent go, other users, task partitions and tenants stay; replicas stop serving', async () => {
    const a = fresh();
    const replica = fresh();
    const anonymous: CacheScope = { tenant: 't1', agent: 'support', taskId: 'task-3' };
    await a.store(alice, ask(Q), answer('alice'));
    await a.store({ ...alice, agent: 'sales' }, ask(Q), answer('alice-sales'));
    await a.store(bob, ask(Q), answer('bob'));
    await a.store(anonymous, ask(Q), answer('anonymous'));
    await a.store({ ...alice, tenant: 't2' }, ask(Q), answer('alice-t2'));
    expect(await replica.lookup(alice, ask(Q))).not.toBeNull(); // the replica has loaded alice's scope
    const users = async (): Promise<{ tenant: string; user_id: string | null }[]> => db.query('SELECT tenant, user_id FROM router.response_cache ORDER BY tenant, user_id');
    expect(await users()).toEqual([
      { tenant: 't1', user_id: 'alice' }, { tenant: 't1', user_id: 'alice' }, { tenant: 't1', user_id: 'bob' }, { tenant: 't1', user_id: null }, { tenant: 't2', user_id: 'alice' },
    ]);

    expect(await a.forgetUser('t1', 'alice')).toBe(2);
    expect(await users()).toEqual([{ tenant: 't1', user_id: 'bob' }, { tenant: 't1', user_id: null }, { tenant: 't2', user_id: 'alice' }]);
    expect(await a.lookup(alice, ask(Q))).toBeNull();
    expect(await replica.lookup(alice, ask(Q))).toBeNull(); // its index still had the entry; the table check refuses it
    expect((await a.lookup(bob, ask(Q)))?.response.content).toBe('bob');
    expect((await a.lookup(anonymous, ask(Q)))?.response.content).toBe('anonymous');
    expect((await fresh().lookup({ ...alice, tenant: 't2' }, ask(Q)))?.response.content).toBe('alice-t2');
    expect(await a.forgetUser('t1', 'alice')).toBe(0);
  });

  it('misses rather than fails when the table is unreachable', async () => {
    const errors: string[] = [];
    const broken = await openDatabase({ url: tdb.url, schema: 'router', migrations: [] });
    await broken.destroy();
    const c = new ResponseCache({ db: broken, now, onError: (_e, op) => errors.push(op) });
    expect(await c.store(alice, ask(Q), answer('x'))).toBe('skipped');
    expect(await c.lookup(alice, ask(Q))).toBeNull();
    expect(errors).toEqual(['store', 'load']);
  });
});
