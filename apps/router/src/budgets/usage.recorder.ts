import { randomUUID } from 'node:crypto';
import type { DataSource } from '@keel/persistence';
import { quote } from '../pricing/price-table';
import type { PriceTable } from '../pricing/price-table';
import type { SettleInput } from './budget.ledger';

const FLUSH_EVERY_MS = 200;
const MAX_BUFFER = 500;

/**
 * Usage rows of calls no budget applies to, written in batches so accounting
 * costs no round trip on the hot path. A call under a budget is settled
 * synchronously by the BudgetLedger instead (its spend must be exact). What a
 * crash can lose here is at most the last ~200 ms of rows; the task's own
 * usage is durable in the orchestrator's checkpoint either way.
 */
export class UsageRecorder {
  private buffer: unknown[][] = [];
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly db: DataSource, private readonly prices: PriceTable, private readonly onError: (err: unknown) => void = () => undefined) {}

  record(input: SettleInput): number {
    const costUsd = input.cacheHit ? 0 : quote(input.model, input.usage, this.prices).costUsd;
    this.buffer.push([randomUUID(), input.tenant, input.userId ?? null, input.agent, input.taskId, input.step, input.model,
      input.usage.inputTokens, Math.min(input.usage.cachedInputTokens ?? 0, input.usage.inputTokens), input.usage.outputTokens, costUsd.toFixed(10), input.cacheHit === true]);
    if (this.buffer.length >= MAX_BUFFER) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
    return costUsd;
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.buffer;
    this.buffer = [];
    if (!rows.length) return this.flushing;
    const cols = (i: number) => rows.map((r) => r[i]);
    this.flushing = this.flushing.then(() => this.db.query(
      `INSERT INTO router.usage (id, tenant, user_id, agent, task_id, step, model, input_tokens, cached_input_tokens, output_tokens, cost_usd, cache_hit)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::int[], $9::int[], $10::int[], $11::numeric[], $12::boolean[])
       ON CONFLICT (id) DO NOTHING`,
      Array.from({ length: 12 }, (_, i) => cols(i)),
    ).then(() => undefined, this.onError));
    return this.flushing;
  }
}
