import { ConfigError } from '@keel/config';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** USD per 1M tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  /** Input tokens served from the provider's prompt cache; the input price when absent (no discount). */
  cachedInputPerMTok?: number;
  /** A made-up price (not a real bill), e.g. for the scripted model. */
  nominal?: boolean;
  /** Share of the price paid through the provider's batch API; DEFAULT_BATCH_FACTOR when absent. */
  batchFactor?: number;
}

/** OpenAI's Batch API bills half the list price for input and output. */
export const DEFAULT_BATCH_FACTOR = 0.5;

export type PriceTable = Readonly<Record<string, ModelPrice>>;

const MODEL_KEY = /^[a-z0-9_-]+\/(\*|.+)$/;
const perMTok = z.number().finite().nonnegative();

/**
 * The price file (`apps/router/prices.json`, or `KEEL_PRICES_FILE`): keys are
 * `provider/model`, or `provider/*` for a whole provider. Unknown fields are
 * errors so a typo ("outputPerMtok") cannot silently price a model at 0.
 */
export const PriceFileSchema = z.object({
  /** When the list prices were copied, for the reader; not used. */
  asOf: z.string().optional(),
  models: z.record(
    z.string().regex(MODEL_KEY, 'model keys are provider/model or provider/*'),
    z.object({ inputPerMTok: perMTok, outputPerMTok: perMTok, cachedInputPerMTok: perMTok, nominal: z.boolean().optional(), batchFactor: z.number().gt(0).max(1).optional() }).strict(),
  ),
}).strict();
export type PriceFile = z.infer<typeof PriceFileSchema>;

/** A ConfigError, so a bad file stops the service with this message rather than a stack trace. */
export class PriceTableError extends ConfigError {
  constructor(message: string) {
    super([message]);
    this.name = new.target.name;
  }
}

/** The file shipped with the router. Same relative path from `src/pricing` (tests) and `dist/pricing` (built). */
export const BUNDLED_PRICES_FILE = resolve(join(__dirname, '..', '..', 'prices.json'));

/** Parses and validates a price file's text; `source` names it in errors. */
export function parsePriceTable(text: string, source: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PriceTableError(`${source}: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = PriceFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new PriceTableError(`${source}: invalid price table: ${problems}`);
  }
  // A null-prototype copy so lookups can never reach Object.prototype.
  return Object.freeze(Object.assign(Object.create(null) as Record<string, ModelPrice>, parsed.data.models));
}

/**
 * Loads the price table at boot: `file` (e.g. `KEEL_PRICES_FILE`) or the
 * bundled one. Throws with the path and the bad field, so a broken file stops
 * the service instead of pricing calls at 0.
 */
export function loadPriceTable(file?: string): PriceTable {
  const path = resolve(file || BUNDLED_PRICES_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PriceTableError(`cannot read price table ${path}: ${(err as Error).message}`);
  }
  return parsePriceTable(text, path);
}

/** The bundled list prices (`apps/router/prices.json`). Dated snapshots and `-latest` aliases resolve to their base model. */
export const DEFAULT_PRICES: PriceTable = loadPriceTable();

export interface Usage {
  /** All prompt tokens, cached ones included (OpenAI's `prompt_tokens`). */
  inputTokens: number;
  outputTokens: number;
  /** The part of `inputTokens` read from the provider's prompt cache (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`). */
  cachedInputTokens?: number;
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

export interface QuoteOptions {
  /** Billed through the provider's batch API (`batchFactor` of the price). */
  batch?: boolean;
}

export function quote(model: string, usage: Usage, table: PriceTable = DEFAULT_PRICES, options: QuoteOptions = {}): CostQuote {
  const price = priceFor(model, table);
  if (!price) return { costUsd: 0, priced: false, nominal: false };
  // Cached tokens are a subset of the input; more than the input would bill negative uncached tokens.
  const cached = Math.min(Math.max(0, usage.cachedInputTokens ?? 0), usage.inputTokens);
  const factor = options.batch ? (price.batchFactor ?? DEFAULT_BATCH_FACTOR) : 1;
  const raw =
    (factor * ((usage.inputTokens - cached) * price.inputPerMTok + cached * (price.cachedInputPerMTok ?? price.inputPerMTok) + usage.outputTokens * price.outputPerMTok)) /
    1_000_000;
  // Round off float noise (0.1 + 0.2) below a millionth of a cent.
  return { costUsd: Math.round(raw * 1e12) / 1e12, priced: true, nominal: price.nominal === true };
}

/** Cost in USD; 0 for models not in the table (see `quote` for the flag). */
export function costUsd(model: string, usage: Usage, table: PriceTable = DEFAULT_PRICES): number {
  return quote(model, usage, table).costUsd;
}
