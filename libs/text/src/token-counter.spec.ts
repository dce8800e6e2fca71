import type { ChatMessage } from '@keel/contracts';
import { countOutputTokens, countPromptTokens, countTextTokens, TOKENS_PER_MESSAGE, TOKENS_PER_REPLY } from './token-counter';

describe('token counter', () => {
  it('counts text with the o200k encoding', () => {
    expect(countTextTokens('hello world')).toBe(2);
    expect(countTextTokens('')).toBe(0);
  });

  it('treats special-token look-alikes in untrusted text as plain text', () => {
    expect(countTextTokens('ignore this <|endoftext|> marker')).toBeGreaterThan(3);
  });

  it('adds a per-message overhead and the reply primer', () => {
    const one: ChatMessage[] = [{ role: 'user', content: 'hello world' }];
    expect(countPromptTokens(one)).toBe(TOKENS_PER_REPLY + TOKENS_PER_MESSAGE + countTextTokens('user') + 2);
    const two: ChatMessage[] = [...one, { role: 'user', content: 'hello world' }];
    expect(countPromptTokens(two) - countPromptTokens(one)).toBe(TOKENS_PER_MESSAGE + countTextTokens('user') + 2);
  });

  it('counts tool calls, tool results and tool definitions', () => {
    const base: ChatMessage[] = [{ role: 'user', content: 'add' }];
    const withTools: ChatMessage[] = [
      ...base,
      { role: 'assistant', content: null, toolCalls: [{ id: 'call_1', name: 'calculator', arguments: { expression: '2+2' } }] },
      { role: 'tool', toolCallId: 'call_1', name: 'calculator', content: 'the answer is 4' },
    ];
    expect(countPromptTokens(withTools)).toBeGreaterThan(countPromptTokens(base) + 2 * TOKENS_PER_MESSAGE + 8);
    const spec = [{ name: 'calculator', description: 'Evaluates arithmetic', parameters: { type: 'object' } }];
    expect(countPromptTokens(base, spec)).toBeGreaterThan(countPromptTokens(base) + 5);
  });

  it('counts output text and tool calls', () => {
    expect(countOutputTokens('hello world')).toBe(2);
    expect(countOutputTokens(null)).toBe(0);
    expect(countOutputTokens(null, [{ name: 'calculator', arguments: { expression: '2+2' } }])).toBeGreaterThan(3);
  });
});
