import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLED_PRICES_FILE, costUsd, DEFAULT_PRICES, loadPriceTable, parsePriceTable, PriceTableError, priceFor, quote } from './price-table';

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

  it('bills batch calls at the batch factor (half by default, per model when set)', () => {
    const usage = { inputTokens: 1000, outputTokens: 500 };
    expect(quote('openai/gpt-4o', usage, DEFAULT_PRICES, { batch: true }).costUsd).toBeCloseTo(0.0075 / 2, 12);
    const table = parsePriceTable(JSON.stringify({ models: { 'x/m': { inputPerMTok: 1, outputPerMTok: 2, cachedInputPerMTok: 1, batchFactor: 0.6 } } }), 't');
    expect(quote('x/m', usage, table, { batch: true }).costUsd).toBeCloseTo(0.6 * (1000 * 1 + 500 * 2) / 1e6, 12);
    expect(() => parsePriceTable(JSON.stringify({ models: { 'x/m': { inputPerMTok: 1, outputPerMTok: 2, cachedInputPerMTok: 1, batchFactor: 1.5 } } }), 't')).toThrow(/batchFactor/);
  });

  it('prices cached input tokens at the cached rate, as part of the input', () => {
    // 1M input of which 400k cached, 100k output on gpt-4o: 600k × 2.5 + 400k × 1.25 + 100k × 10, per 1M.
    expect(costUsd('openai/gpt-4o', { inputTokens: 1_000_000, cachedInputTokens: 400_000, outputTokens: 100_000 })).toBe(3);
    expect(costUsd('anthropic/claude-sonnet-4', { inputTokens: 1000, cachedInputTokens: 1000, outputTokens: 0 })).toBe(0.0003);
    // Never more cached than input (no negative uncached tokens).
    expect(costUsd('openai/gpt-4o', { inputTokens: 10, cachedInputTokens: 50, outputTokens: 0 })).toBe(costUsd('openai/gpt-4o', { inputTokens: 10, cachedInputTokens: 10, outputTokens: 0 }));
    // A table without a cached price charges cached tokens as input.
    expect(costUsd('vllm/q', { inputTokens: 1_000_000, cachedInputTokens: 500_000, outputTokens: 0 }, { 'vllm/*': { inputPerMTok: 1, outputPerMTok: 1 } })).toBe(1);
  });
});

describe('price file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-prices-'));
  const write = (name: string, body: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof body === 'string' ? body : JSON.stringify(body));
    return path;
  };

  it('is the bundled apps/router/prices.json by default, every entry with a cached-input price', () => {
    expect(BUNDLED_PRICES_FILE).toMatch(/apps[\\/]router[\\/]prices\.json$/);
    const file = JSON.parse(readFileSync(BUNDLED_PRICES_FILE, 'utf8')) as { models: Record<string, unknown> };
    expect(Object.keys(DEFAULT_PRICES).sort()).toEqual(Object.keys(file.models).sort());
    for (const price of Object.values(DEFAULT_PRICES)) expect(price.cachedInputPerMTok).toEqual(expect.any(Number));
  });

  it('loads another file (KEEL_PRICES_FILE)', () => {
    const path = write('custom.json', { models: { 'acme/big': { inputPerMTok: 1, outputPerMTok: 2, cachedInputPerMTok: 0.5 } } });
    const table = loadPriceTable(path);
    expect(costUsd('acme/big', { inputTokens: 1_000_000, outputTokens: 1_000_000, cachedInputTokens: 1_000_000 }, table)).toBe(2.5);
    expect(priceFor('openai/gpt-4o', table)).toBeUndefined();
    expect(priceFor('acme/constructor', table)).toBeUndefined();
  });

  it('refuses a missing, malformed or invalid file, naming the path and field', () => {
    expect(() => loadPriceTable(join(dir, 'nope.json'))).toThrow(/cannot read price table .*nope\.json/);
    expect(() => loadPriceTable(write('bad.json', '{'))).toThrow(/bad\.json: not valid JSON/);
    expect(() => parsePriceTable(JSON.stringify({ models: { 'openai/x': { inputPerMTok: 1, outputPerMtok: 2, cachedInputPerMTok: 1 } } }), 'f.json')).toThrow(PriceTableError);
    expect(() => parsePriceTable(JSON.stringify({ models: { 'openai/x': { inputPerMTok: -1, outputPerMTok: 2, cachedInputPerMTok: 1 } } }), 'f.json')).toThrow(/models\.openai\/x\.inputPerMTok/);
    expect(() => parsePriceTable(JSON.stringify({ models: { 'openai/x': { inputPerMTok: 1, outputPerMTok: 2 } } }), 'f.json')).toThrow(/cachedInputPerMTok/);
    expect(() => parsePriceTable(JSON.stringify({ models: { 'gpt-4o': { inputPerMTok: 1, outputPerMTok: 2, cachedInputPerMTok: 1 } } }), 'f.json')).toThrow(/models\.gpt-4o: /);
  });
});
