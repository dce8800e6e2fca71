import { costUsd, priceFor, quote } from './price-table';

describe('price table', () => {
  it('prices known models per million tokens', () => {
    expect(costUsd('openai/gpt-4o-mini', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBeCloseTo(0.75, 12);
    expect(costUsd('openai/gpt-4o', { inputTokens: 1000, outputTokens: 500 })).toBeCloseTo(0.0075, 12);
    expect(costUsd('anthropic/claude-3-5-haiku', { inputTokens: 2000, outputTokens: 1000 })).toBeCloseTo(0.0056, 12);
    expect(costUsd('anthropic/claude-sonnet-4', { inputTokens: 1000, outputTokens: 1000 })).toBeCloseTo(0.018, 12);
  });

  it('gives the scripted model a nominal price', () => {
    expect(quote('scripted/default', { inputTokens: 1000, outputTokens: 500 })).toEqual({ costUsd: 0.00045, priced: true, nominal: true });
    expect(priceFor('scripted/anything')).toMatchObject({ inputPerMTok: 0.15, outputPerMTok: 0.6, nominal: true });
  });

  it('resolves dated snapshots and -latest aliases to the base model', () => {
    expect(priceFor('openai/gpt-4o-mini-2024-07-18')).toEqual(priceFor('openai/gpt-4o-mini'));
    expect(priceFor('anthropic/claude-3-5-haiku-20241022')).toEqual(priceFor('anthropic/claude-3-5-haiku'));
    expect(priceFor('anthropic/claude-3-5-haiku-latest')).toEqual(priceFor('anthropic/claude-3-5-haiku'));
  });

  it('does not guess by prefix', () => {
    expect(priceFor('openai/gpt-4o-audio-preview')).toBeUndefined();
  });

  it('costs unknown models 0 and flags them', () => {
    expect(quote('ollama/llama3', { inputTokens: 1000, outputTokens: 1000 })).toEqual({ costUsd: 0, priced: false, nominal: false });
    expect(quote('openai/constructor', { inputTokens: 1, outputTokens: 1 }).priced).toBe(false);
  });

  it('has no float noise', () => {
    expect(costUsd('openai/gpt-4o-mini', { inputTokens: 1, outputTokens: 0 })).toBe(0.00000015);
  });

  it('accepts a custom table', () => {
    expect(costUsd('vllm/qwen', { inputTokens: 1_000_000, outputTokens: 0 }, { 'vllm/*': { inputPerMTok: 0.01, outputPerMTok: 0.02 } })).toBe(0.01);
  });
});
