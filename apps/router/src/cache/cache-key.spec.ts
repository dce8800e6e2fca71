import type { ChatMessage, CompleteRequest, ToolSpec } from '@keel/contracts';
import { cacheKeys, canonicalJson, normaliseText, partitionFor, requestForCache, toolSetHash } from './cache-key';
import type { CacheableRequest, CacheScope } from './cache-key';

const alice: CacheScope = { tenant: 't1', agent: 'support', userId: 'alice', taskId: 'task-1' };
const calc: ToolSpec = { name: 'calculator', description: 'Evaluates arithmetic', parameters: { type: 'object', properties: { expr: { type: 'string' } } } };
const search: ToolSpec = { name: 'web_search', description: 'Searches the web', parameters: { type: 'object', properties: { q: { type: 'string' } } } };
const msgs = (user: string, system = 'You are helpful.'): ChatMessage[] => [{ role: 'system', content: system }, { role: 'user', content: user }];
const req = (over: Partial<CacheableRequest> = {}): CacheableRequest => ({ model: 'openai/gpt-4o-mini', messages: msgs('What is the capital of France?'), tools: [calc, search], ...over });

describe('cache keys', () => {
  it('are stable across calls and hex sha-256 with a kind prefix', () => {
    const a = cacheKeys(alice, req());
    expect(cacheKeys(alice, req())).toEqual(a);
    expect(a.exactKey).toMatch(/^n:[0-9a-f]{64}$/);
    expect(a.rawKey).toMatch(/^r:[0-9a-f]{64}$/);
    expect(a.scopeKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ignore whitespace differences in messages', () => {
    const spaced = req({ messages: msgs('  What is   the capital\nof France?\t', 'You are\n\nhelpful. ') });
    expect(cacheKeys(alice, spaced).exactKey).toBe(cacheKeys(alice, req()).exactKey);
    // The raw key is for byte-identical requests only.
    expect(cacheKeys(alice, spaced).rawKey).not.toBe(cacheKeys(alice, req()).rawKey);
  });

  it('ignore the order of tools and of keys inside their schemas', () => {
    const reordered: ToolSpec = { ...calc, parameters: { properties: { expr: { type: 'string' } }, type: 'object' } };
    const a = cacheKeys(alice, req({ tools: [search, reordered] }));
    const b = cacheKeys(alice, req());
    expect(a.exactKey).toBe(b.exactKey);
    expect(a.scopeKey).toBe(b.scopeKey);
    expect(a.toolSetHash).toBe(b.toolSetHash);
  });

  it('ignore provider-generated tool-call ids', () => {
    const turn = (id: string): ChatMessage[] => [
      ...msgs('2+2?'),
      { role: 'assistant', content: null, toolCalls: [{ id, name: 'calculator', arguments: { expr: '2+2' } }] },
      { role: 'tool', toolCallId: id, name: 'calculator', content: '4' },
    ];
    expect(cacheKeys(alice, req({ messages: turn('call_1') })).exactKey).toBe(cacheKeys(alice, req({ messages: turn('call_xyz') })).exactKey);
  });

  it('change with the model, the tool set, a tool schema, the params and the content', () => {
    const base = cacheKeys(alice, req());
    expect(cacheKeys(alice, req({ model: 'openai/gpt-4o' })).exactKey).not.toBe(base.exactKey);
    expect(cacheKeys(alice, req({ tools: [calc] })).exactKey).not.toBe(base.exactKey);
    const calc2: ToolSpec = { ...calc, parameters: { type: 'object', properties: { expression: { type: 'string' } } } };
    const changed = cacheKeys(alice, req({ tools: [calc2, search] }));
    expect(changed.exactKey).not.toBe(base.exactKey);
    expect(changed.toolSetHash).not.toBe(base.toolSetHash);
    expect(changed.scopeKey).not.toBe(base.scopeKey);
    expect(cacheKeys(alice, req({ params: { temperature: 0.7 } })).exactKey).not.toBe(base.exactKey);
    expect(cacheKeys(alice, req({ messages: msgs('What is the capital of Spain?') })).exactKey).not.toBe(base.exactKey);
    // Case is meaning, not formatting.
    expect(cacheKeys(alice, req({ messages: msgs('what is the capital of france?') })).exactKey).not.toBe(base.exactKey);
  });

  it('treat an undefined param like an absent one', () => {
    expect(cacheKeys(alice, req({ params: { temperature: undefined } })).exactKey).toBe(cacheKeys(alice, req()).exactKey);
  });

  it('offer the last user message for semantic matching, with the numbers in the context', () => {
    const k = cacheKeys(alice, req({ messages: msgs('Transfer  100 EUR to Bob') }));
    expect(k.semantic?.text).toBe('Transfer 100 EUR to Bob');
    expect(cacheKeys(alice, req({ messages: msgs('Transfer 900 EUR to Bob') })).semantic?.contextHash).not.toBe(k.semantic?.contextHash);
    expect(cacheKeys(alice, req({ messages: msgs('transfer 100 EUR to bob') })).semantic?.contextHash).toBe(k.semantic?.contextHash);
    const afterTool: ChatMessage[] = [...msgs('2+2?'), { role: 'tool', toolCallId: 'c', name: 'calculator', content: '4' }];
    expect(cacheKeys(alice, req({ messages: afterTool })).semantic).toBeUndefined();
  });
});

describe('scope rule', () => {
  it('separates users, and shares across one user\'s tasks', () => {
    const bob: CacheScope = { ...alice, userId: 'bob' };
    expect(cacheKeys(bob, req()).scopeKey).not.toBe(cacheKeys(alice, req()).scopeKey);
    expect(cacheKeys({ ...alice, taskId: 'task-2' }, req()).scopeKey).toBe(cacheKeys(alice, req()).scopeKey);
  });

  it('separates tenants and agents', () => {
    expect(cacheKeys({ ...alice, tenant: 't2' }, req()).scopeKey).not.toBe(cacheKeys(alice, req()).scopeKey);
    expect(cacheKeys({ ...alice, agent: 'sales' }, req()).scopeKey).not.toBe(cacheKeys(alice, req()).scopeKey);
  });

  it('without a user id, scopes by task anything beyond the system prompt', () => {
    const anon = { tenant: 't1', agent: 'support', taskId: 'task-1' };
    expect(partitionFor(anon, msgs('hi'))).toBe('task:task-1');
    expect(partitionFor(anon, [{ role: 'system', content: 'You are helpful.' }])).toBe('shared');
    expect(partitionFor({ ...anon, userId: '' }, msgs('hi'))).toBe('task:task-1');
    expect(cacheKeys({ ...anon, taskId: 'task-2' }, req()).scopeKey).not.toBe(cacheKeys(anon, req()).scopeKey);
    const sysOnly = req({ messages: [{ role: 'system', content: 'Say hello.' }] });
    expect(cacheKeys({ ...anon, taskId: 'task-2' }, sysOnly).scopeKey).toBe(cacheKeys(anon, sysOnly).scopeKey);
  });

  it('cannot be forged by separators inside names', () => {
    const a = cacheKeys({ tenant: 'a/b', agent: 'c', taskId: 't', userId: 'u' }, req()).scopeKey;
    const b = cacheKeys({ tenant: 'a', agent: 'b/c', taskId: 't', userId: 'u' }, req()).scopeKey;
    expect(a).not.toBe(b);
  });
});

describe('helpers', () => {
  it('normaliseText collapses whitespace and composes accents', () => {
    expect(normaliseText('  a \n\t b  ')).toBe('a b');
    expect(normaliseText('cafe\u0301')).toBe(normaliseText('caf\u00e9'));
  });

  it('canonicalJson sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ f: 1, e: 2 }], c: 3 } })).toBe('{"a":{"c":3,"d":[{"e":2,"f":1}]},"b":1}');
  });

  it('toolSetHash of no tools is defined and differs from one tool', () => {
    expect(toolSetHash()).toBe(toolSetHash([]));
    expect(toolSetHash([calc])).not.toBe(toolSetHash([]));
  });

  it('requestForCache keys scripted requests by their script and cursor', () => {
    const base: CompleteRequest = { taskId: 't', tenant: 'x', agent: 'a', step: 1, model: 'scripted/default', messages: msgs('hi'), tools: [], script: [{ content: 'hello' }], scriptCursor: 0, deadline: 1 };
    const k = (r: CompleteRequest) => cacheKeys(alice, requestForCache(r)).exactKey;
    expect(k({ ...base, script: [{ content: 'bye' }] })).not.toBe(k(base));
    expect(k({ ...base, scriptCursor: 1 })).not.toBe(k(base));
    expect(k({ ...base, step: 2, deadline: 99 })).toBe(k(base));
    expect(requestForCache({ ...base, script: undefined, model: 'openai/gpt-4o' }, { temperature: 0 }).params).toEqual({ temperature: 0 });
  });
});
