import type { ChatMessage } from '@keel/contracts';
import { TokenCountCache } from './token-cache';
import { clearTokenCountCache, countPromptTokens, countTextTokens } from './token-counter';

describe('TokenCountCache', () => {
  const length = (text: string): number => text.length;

  it('counts a text once and answers repeats from the cache', () => {
    const cache = new TokenCountCache();
    const count = jest.fn(length);
    expect(cache.getOrCount('hello', count)).toBe(5);
    expect(cache.getOrCount('hel' + 'lo', count)).toBe(5);
    expect(count).toHaveBeenCalledTimes(1);
  });

  it('stays within its entry bound and keeps recently used texts', () => {
    const cache = new TokenCountCache({ maxEntries: 10 });
    const count = jest.fn(length);
    cache.getOrCount('keep', count);
    for (let i = 0; i < 100; i++) {
      cache.getOrCount(`text ${i}`, count);
      cache.getOrCount('keep', count);
      expect(cache.size).toBeLessThanOrEqual(10);
    }
    expect(count.mock.calls.filter(([t]) => t === 'keep')).toHaveLength(1);
  });

  it('stays within its character bound and never caches a text larger than allowed', () => {
    const cache = new TokenCountCache({ maxChars: 1_000 });
    for (let i = 0; i < 50; i++) cache.getOrCount(`${i}`.padEnd(90, 'x'), length);
    expect(cache.totalChars).toBeLessThanOrEqual(1_000);
    const count = jest.fn(length);
    const huge = 'y'.repeat(600);
    cache.getOrCount(huge, count);
    cache.getOrCount(huge, count);
    expect(count).toHaveBeenCalledTimes(2);
  });

  it('forgets everything on clear', () => {
    const cache = new TokenCountCache();
    cache.getOrCount('abc', length);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.totalChars).toBe(0);
  });
});

describe('cached token counting', () => {
  it('gives the same counts as a cold count for a growing transcript', () => {
    const messages: ChatMessage[] = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is 2+2?' }];
    const warm: number[] = [];
    for (let step = 0; step < 5; step++) {
      messages.push({ role: 'assistant', content: null, toolCalls: [{ id: `call_${step}`, name: 'calculator', arguments: { expression: `${step}+2` } }] });
      messages.push({ role: 'tool', toolCallId: `call_${step}`, name: 'calculator', content: `{"result":${step + 2}}` });
      warm.push(countPromptTokens(structuredClone(messages)));
    }
    clearTokenCountCache();
    const cold = warm.map((_, step) => {
      clearTokenCountCache();
      return countPromptTokens(messages.slice(0, 4 + 2 * step));
    });
    expect(warm).toEqual(cold);
    expect(countTextTokens('hello world')).toBe(2);
  });
});
