import type { ChatMessage, ToolSpec } from '@keel/contracts';
import { DEFAULT_PRICES, quote } from '../pricing/price-table';
import type { PriceTable } from '../pricing/price-table';
import { countPromptTokens } from '@keel/text';

/**
 * Output tokens assumed for a call before it is made. The reply's length is
 * unknown, so the estimate takes an upper bound: 4096 is the usual default
 * `max_tokens` (Anthropic requires one; OpenAI's small models reply within
 * it). The budget holds only if the provider is asked for at most this many
 * output tokens: a longer reply costs more than was reserved.
 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

export interface EstimateInput {
  model: string;
  messages: readonly ChatMessage[];
  tools?: readonly ToolSpec[];
  /** Upper bound of the reply; `DEFAULT_MAX_OUTPUT_TOKENS` when absent. */
  maxOutputTokens?: number;
  prices?: PriceTable;
}

export interface CostEstimate {
  model: string;
  inputTokens: number;
  maxOutputTokens: number;
  /** Upper bound in USD; 0 for a model without a price. */
  costUsd: number;
  priced: boolean;
}

/**
 * The pre-request estimate: prompt tokens counted with the real tokenizer
 * (o200k, `countPromptTokens`) plus the assumed maximum reply, at the price
 * table's rates. All input is priced uncached: whether the provider's cache
 * hits is only known afterwards, and an estimate must not be low.
 */
export function estimateCost(input: EstimateInput): CostEstimate {
  const inputTokens = countPromptTokens(input.messages, input.tools ?? []);
  const maxOutputTokens = input.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS;
  const q = quote(input.model, { inputTokens, outputTokens: maxOutputTokens }, input.prices ?? DEFAULT_PRICES);
  return { model: input.model, inputTokens, maxOutputTokens, costUsd: q.costUsd, priced: q.priced };
}
