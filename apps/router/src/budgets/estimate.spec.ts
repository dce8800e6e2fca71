import type { ChatMessage } from '@keel/contracts';
import { costUsd, priceFor } from '../pricing/price-table';
import { countPromptTokens } from '@keel/text';
import { DEFAULT_MAX_OUTPUT_TOKENS, estimateCost } from './estimate';

describe('pre-request estimate', () => {
  const messages: ChatMessage[] = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is 2+2?' }];

  it('is the tokenizer-counted prompt plus the assumed maximum reply, at list prices', () => {
    const e = estimateCost({ model: 'openai/gpt-4o', messages });
    expect(e.inputTokens).toBe(countPromptTokens(messages));
    expect(e.maxOutputTokens).toBe(DEFAULT_MAX_OUTPUT_TOKENS);
    const price = priceFor('openai/gpt-4o')!;
    expect(e.costUsd).toBeCloseTo((e.inputTokens * price.inputPerMTok + DEFAULT_MAX_OUTPUT_TOKENS * price.outputPerMTok) / 1e6, 12);
    expect(e.priced).toBe(true);
  });

  it('counts tools, honours a smaller reply bound, and is 0 (unpriced) for unknown models', () => {
    const tools = [{ name: 'calculator', description: 'Evaluates arithmetic', parameters: { type: 'object' } }];
    expect(estimateCost({ model: 'openai/gpt-4o', messages, tools }).inputTokens).toBeGreaterThan(countPromptTokens(messages));
    const small = estimateCost({ model: 'openai/gpt-4o', messages, maxOutputTokens: 10 });
    expect(small.costUsd).toBe(costUsd('openai/gpt-4o', { inputTokens: small.inputTokens, outputTokens: 10 }));
    expect(estimateCost({ model: 'ollama/llama3', messages })).toMatchObject({ costUsd: 0, priced: false });
  });

  it('is never below the cost of a reply within the bound, even with cache hits', () => {
    const e = estimateCost({ model: 'anthropic/claude-sonnet-4', messages });
    expect(costUsd('anthropic/claude-sonnet-4', { inputTokens: e.inputTokens, cachedInputTokens: e.inputTokens, outputTokens: e.maxOutputTokens })).toBeLessThan(e.costUsd);
  });
});
