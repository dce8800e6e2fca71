/** USD per 1M tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  /** A made-up price (not a real bill), e.g. for the scripted model. */
  nominal?: boolean;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/**
 * List prices as of writing; keys are `provider/model`, or `provider/*` for a
 * whole provider. Dated snapshots (`-2024-07-18`, `-20241022`) and `-latest`
 * aliases resolve to their base model.
 */
export const DEFAULT_PRICES: PriceTable = {
  'openai/gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  'openai/gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
  'anthropic/claude-3-5-haiku': { inputPerMTok: 0.8, outputPerMTok: 4 },
  'anthropic/claude-sonnet-4': { inputPerMTok: 3, outputPerMTok: 15 },
  // Nominal, so cost accounting (budgets, alerts, task totals) can be tested with the scripted model.
  'scripted/*': { inputPerMTok: 0.15, outputPerMTok: 0.6, nominal: true },
};

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface CostQuote {
  costUsd: number;
  /** False when the model is not in the table: its cost is reported as 0. */
  priced: boolean;
  nominal: boolean;
}

const SNAPSHOT_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;

export function priceFor(model: string, table: PriceTable = DEFAULT_PRICES): ModelPrice | undefined {
  const exact = lookup(table, model) ?? lookup(table, model.replace(SNAPSHOT_SUFFIX, ''));
  if (exact) return exact;
  const slash = model.indexOf('/');
  return slash > 0 ? lookup(table, `${model.slice(0, slash)}/*`) : undefined;
}

// Own keys only: a model named "constructor" must not find Object.prototype's.
function lookup(table: PriceTable, key: string): ModelPrice | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

export function quote(model: string, usage: Usage, table: PriceTable = DEFAULT_PRICES): CostQuote {
  const price = priceFor(model, table);
  if (!price) return { costUsd: 0, priced: false, nominal: false };
  const raw = (usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / 1_000_000;
  // Round off float noise (0.1 + 0.2) below a millionth of a cent.
  return { costUsd: Math.round(raw * 1e12) / 1e12, priced: true, nominal: price.nominal === true };
}

/** Cost in USD; 0 for models not in the table (see `quote` for the flag). */
export function costUsd(model: string, usage: Usage, table: PriceTable = DEFAULT_PRICES): number {
  return quote(model, usage, table).costUsd;
}
