import { randomUUID } from 'node:crypto';
import { DataSource } from '@keel/persistence';
import type { QueryRunner } from '@keel/persistence';
import { DEFAULT_PRICES, quote } from '../pricing/price-table';
import type { PriceTable, Usage } from '../pricing/price-table';
import { periodsAt } from './budget.policy';
import type { BudgetLine } from './budget.policy';

/**
 * Budget enforcement in Postgres (`router.budget_spend`, `router.usage`,
 * `router.budget_reservations`). No counters in memory: any number of router
 * replicas share the rows, and every check happens under the row lock.
 *
 * Call order per model call: `reserve` the estimate → call the provider →
 * `settle` with the provider's usage, or `release` if no tokens were spent.
 * Lock order is always (scope, period) ascending so concurrent reserves and
 * settles over several rows cannot deadlock.
 */
export const ALERT_THRESHOLD = 0.8;

export interface BudgetAlert {
  scope: string;
  period: string;
  threshold: number;
  limitUsd: number;
  spentUsd: number;
  /** The call whose settlement crossed the threshold. */
  taskId: string;
  tenant: string;
}

export interface BudgetLedgerOptions {
  prices?: PriceTable;
  /**
   * Told once per (scope, period) when spend reaches 80 % of the limit, after
   * the commit (an event, `keel_budget_alerts_total` and a webhook). At most
   * once: a crash between commit and callback loses the alert.
   */
  onAlert?: (alert: BudgetAlert) => void | Promise<void>;
  /** A throwing or rejecting `onAlert` lands here instead of failing the settlement. */
  onAlertError?: (err: unknown, alert: BudgetAlert) => void;
}

export interface Reservation {
  id: string;
  taskId: string;
  estimateUsd: number;
  lines: readonly { scope: string; period: string }[];
}

export interface ExhaustedLine {
  scope: string;
  period: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
}

export type ReserveResult = { ok: true; reservation: Reservation } | { ok: false; exhausted: ExhaustedLine[] };

export interface SettleInput {
  tenant: string;
  userId?: string;
  agent: string;
  taskId: string;
  step: number;
  /** The model that answered (after any downgrade). */
  model: string;
  /** As the provider reported it; the cost is the price table applied to it. */
  usage: Usage;
  /** Answered from the response cache: recorded, costs 0. */
  cacheHit?: boolean;
  /** Answered through the provider's batch API: billed at the batch price. */
  batch?: boolean;
}

export interface SettleResult {
  /** False when this reservation was settled before (a repeat records nothing). */
  settled: boolean;
  costUsd: number;
  alerts: BudgetAlert[];
}

export interface BudgetRemaining {
  scope: string;
  period: string;
  limitUsd: number;
  spentUsd: number;
  reservedUsd: number;
  /** limit − spent − reserved, never below 0 (the `keel_budget_remaining_usd` gauge). */
  remainingUsd: number;
}

export interface TaskUsage {
  calls: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** Amounts go to Postgres as decimal text at the column's scale, so sums there are exact. */
function money(usd: number): string {
  if (!Number.isFinite(usd) || usd < 0) throw new RangeError(`not a USD amount: ${usd}`);
  return (Math.round(usd * 1e10) / 1e10).toFixed(10);
}

/** One entry per (scope, period), in a fixed order; a row named twice (two rules on one scope) keeps the stricter limit. */
function uniqueLines(lines: readonly BudgetLine[]): BudgetLine[] {
  const seen = new Map<string, BudgetLine>();
  for (const l of lines) {
    const prev = seen.get(rowKey(l));
    if (!prev || l.limitUsd < prev.limitUsd) seen.set(rowKey(l), l);
  }
  return sortRows([...seen.values()]);
}

function uniqueRows<T extends { scope: string; period: string }>(rows: readonly T[]): T[] {
  return sortRows([...new Map(rows.map((r) => [rowKey(r), r])).values()]);
}

// Only for a deterministic parameter order; the lock order itself is Postgres's ORDER BY ... COLLATE "C".
function sortRows<T extends { scope: string; period: string }>(rows: T[]): T[] {
  return rows.sort((a, b) => cmp(a.scope, b.scope) || cmp(a.period, b.period));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function rowKey(r: { scope: string; period: string }): string {
  return `${r.scope}\u0000${r.period}`;
}

type SpendRow = { scope: string; period: string; limit_usd: string; spent_usd: string; reserved_usd: string };

const LOCK_ROWS = `SELECT 1 FROM router.budget_spend b
  WHERE (b.scope, b.period) IN (SELECT * FROM unnest($1::text[], $2::text[]))
  ORDER BY b.scope COLLATE "C", b.period COLLATE "C" FOR UPDATE`;

export class BudgetLedger {
  private readonly prices: PriceTable;

  constructor(
    private readonly db: DataSource,
    private readonly options: BudgetLedgerOptions = {},
  ) {
    this.prices = options.prices ?? DEFAULT_PRICES;
  }

  /**
   * Reserves `estimateUsd` on every line, all or nothing, in one transaction:
   * creates the period rows (and takes their locks in order), then one UPDATE
   * adds the estimate where spent + reserved + estimate <= limit. Postgres
   * re-checks that condition on the newest row version after waiting for a
   * lock, so concurrent callers cannot both take the last dollar. If any line
   * is not updated, nothing is reserved and the exhausted lines are returned.
   */
  async reserve(input: { taskId: string; lines: readonly BudgetLine[]; estimateUsd: number; id?: string }): Promise<ReserveResult> {
    const id = input.id ?? randomUUID();
    const lines = uniqueLines(input.lines);
    const estimate = money(input.estimateUsd);
    const scopes = lines.map((l) => l.scope);
    const periods = lines.map((l) => l.period);
    const reservation: Reservation = { id, taskId: input.taskId, estimateUsd: Number(estimate), lines: lines.map(({ scope, period }) => ({ scope, period })) };

    return this.transaction<ReserveResult>(async (qr) => {
      if (lines.length > 0) {
        // DO UPDATE (not DO NOTHING) so existing rows are locked here, in sorted order, and a changed limit applies at once.
        await qr.query(
          `INSERT INTO router.budget_spend (scope, period, limit_usd)
           SELECT k.scope, k.period, k.limit_usd FROM unnest($1::text[], $2::text[], $3::numeric[]) AS k(scope, period, limit_usd)
           ORDER BY k.scope COLLATE "C", k.period COLLATE "C"
           ON CONFLICT (scope, period) DO UPDATE SET limit_usd = EXCLUDED.limit_usd, updated_at = now()
           WHERE router.budget_spend.limit_usd IS DISTINCT FROM EXCLUDED.limit_usd`,
          [scopes, periods, lines.map((l) => money(l.limitUsd))],
        );
        const updated = await rows<{ scope: string; period: string }>(qr,
          `UPDATE router.budget_spend b SET reserved_usd = b.reserved_usd + $3::numeric, updated_at = now()
             FROM unnest($1::text[], $2::text[]) AS k(scope, period)
            WHERE b.scope = k.scope AND b.period = k.period AND b.spent_usd + b.reserved_usd + $3::numeric <= b.limit_usd
           RETURNING b.scope, b.period`,
          [scopes, periods, estimate],
        );
        if (updated.length !== lines.length) {
          const ok = new Set(updated.map(rowKey));
          const missing = lines.filter((l) => !ok.has(rowKey(l)));
          const state = await rows<SpendRow>(qr,
            `SELECT scope, period, limit_usd, spent_usd, reserved_usd FROM router.budget_spend
              WHERE (scope, period) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
            [missing.map((l) => l.scope), missing.map((l) => l.period)],
          );
          return { commit: false, value: { ok: false, exhausted: state.map(toExhausted) } };
        }
      }
      await qr.query(
        'INSERT INTO router.budget_reservations (id, scopes, periods, estimate_usd, task_id) VALUES ($1, $2::text[], $3::text[], $4::numeric, $5)',
        [id, scopes, periods, estimate, input.taskId],
      );
      return { commit: true, value: { ok: true, reservation } };
    });
  }

  /**
   * After the provider answered: in one transaction, records the usage row,
   * moves the estimate out of `reserved_usd` and the actual cost into
   * `spent_usd`, and marks the 80 % alert of every row that crossed it (fired
   * after the commit). Idempotent on the reservation id (the usage row's id).
   * Settling a reservation the sweeper already released still records the
   * spend: the tokens were paid for.
   */
  async settle(reservation: Reservation, input: SettleInput): Promise<SettleResult> {
    const costUsd = input.cacheHit ? 0 : quote(input.model, input.usage, this.prices, { batch: input.batch }).costUsd;
    const lines = uniqueRows(reservation.lines);
    const scopes = lines.map((l) => l.scope);
    const periods = lines.map((l) => l.period);
    const result = await this.transaction<SettleResult>(async (qr) => {
      const inserted = await rows(qr,
        `INSERT INTO router.usage (id, tenant, user_id, agent, task_id, step, model, input_tokens, cached_input_tokens, output_tokens, cost_usd, cache_hit, batch)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::numeric, $12, $13) ON CONFLICT (id) DO NOTHING RETURNING 1`,
        [reservation.id, input.tenant, input.userId ?? null, input.agent, input.taskId, input.step, input.model,
          input.usage.inputTokens, Math.min(input.usage.cachedInputTokens ?? 0, input.usage.inputTokens), input.usage.outputTokens, money(costUsd), input.cacheHit === true, input.batch === true],
      );
      if (inserted.length === 0) return { commit: false, value: { settled: false, costUsd, alerts: [] } };
      const held = await rows<{ estimate_usd: string }>(qr, 'DELETE FROM router.budget_reservations WHERE id = $1 RETURNING estimate_usd', [reservation.id]);
      const release = held.length > 0 ? held[0].estimate_usd : '0';
      if (lines.length === 0) return { commit: true, value: { settled: true, costUsd, alerts: [] } };
      await qr.query(LOCK_ROWS, [scopes, periods]);
      await qr.query(
        `UPDATE router.budget_spend b SET reserved_usd = b.reserved_usd - $3::numeric, spent_usd = b.spent_usd + $4::numeric, updated_at = now()
           FROM unnest($1::text[], $2::text[]) AS k(scope, period)
          WHERE b.scope = k.scope AND b.period = k.period`,
        [scopes, periods, release, money(costUsd)],
      );
      // Conditional on NOT alerted_80 under the row lock: exactly one settlement per (scope, period) sees it flip.
      const crossed = await rows<{ scope: string; period: string; limit_usd: string; spent_usd: string }>(qr,
        `UPDATE router.budget_spend b SET alerted_80 = true
           FROM unnest($1::text[], $2::text[]) AS k(scope, period)
          WHERE b.scope = k.scope AND b.period = k.period AND NOT b.alerted_80 AND b.limit_usd > 0 AND b.spent_usd >= $3::numeric * b.limit_usd
         RETURNING b.scope, b.period, b.limit_usd, b.spent_usd`,
        [scopes, periods, String(ALERT_THRESHOLD)],
      );
      const alerts = crossed.map((r) => ({ scope: r.scope, period: r.period, threshold: ALERT_THRESHOLD, limitUsd: Number(r.limit_usd), spentUsd: Number(r.spent_usd), taskId: input.taskId, tenant: input.tenant }));
      return { commit: true, value: { settled: true, costUsd, alerts } };
    });
    for (const alert of result.alerts) await this.fire(alert);
    return result;
  }

  /** The call failed before spending tokens: gives the estimate back. False if already settled or released. */
  async release(reservation: Pick<Reservation, 'id'>): Promise<boolean> {
    return this.transaction<boolean>(async (qr) => {
      const held = await rows<{ scopes: string[]; periods: string[]; estimate_usd: string }>(qr,
        'DELETE FROM router.budget_reservations WHERE id = $1 RETURNING scopes, periods, estimate_usd', [reservation.id]);
      if (held.length === 0) return { commit: false, value: false };
      await this.unreserve(qr, held);
      return { commit: true, value: true };
    });
  }

  /**
   * Releases reservations older than `olderThanMs` (a router that died
   * mid-call). Run it periodically with a bound well above the longest call
   * (attempt timeout × attempts); returns how many were released.
   */
  async releaseStale(olderThanMs: number): Promise<number> {
    return this.transaction<number>(async (qr) => {
      const held = await rows<{ scopes: string[]; periods: string[]; estimate_usd: string }>(qr,
        `DELETE FROM router.budget_reservations WHERE created_at < now() - ($1::bigint * interval '1 millisecond')
           AND (hold_until IS NULL OR hold_until < now())
         RETURNING scopes, periods, estimate_usd`, [Math.max(0, Math.floor(olderThanMs))]);
      if (held.length > 0) await this.unreserve(qr, held);
      return { commit: true, value: held.length };
    });
  }

  /** Keeps a reservation from the stale sweep until `until` (a batch turn settles hours later). */
  async hold(reservation: Pick<Reservation, 'id'>, until: Date): Promise<void> {
    await this.db.query('UPDATE router.budget_reservations SET hold_until = $2 WHERE id = $1', [reservation.id, until]);
  }

  /** The scope's rows for the current day and month (only rows that exist, i.e. budgets that were used). */
  async remaining(scope: string, now: Date = new Date()): Promise<BudgetRemaining[]> {
    const { day, month } = periodsAt(now);
    const found = await this.db.query<SpendRow[]>(
      `SELECT scope, period, limit_usd, spent_usd, reserved_usd FROM router.budget_spend WHERE scope = $1 AND period IN ($2, $3) ORDER BY period`,
      [scope, day, month],
    );
    return found.map((r) => {
      const limitUsd = Number(r.limit_usd), spentUsd = Number(r.spent_usd), reservedUsd = Number(r.reserved_usd);
      return { scope: r.scope, period: r.period, limitUsd, spentUsd, reservedUsd, remainingUsd: Math.max(0, Math.round((limitUsd - spentUsd - reservedUsd) * 1e10) / 1e10) };
    });
  }

  /** A task's recorded usage, summed over its model calls. */
  async taskUsage(taskId: string): Promise<TaskUsage> {
    const [r] = await this.db.query<{ calls: number; input: string; cached: string; output: string; cost: string }[]>(
      `SELECT count(*)::int AS calls, coalesce(sum(input_tokens), 0) AS input, coalesce(sum(cached_input_tokens), 0) AS cached,
              coalesce(sum(output_tokens), 0) AS output, coalesce(sum(cost_usd), 0) AS cost
         FROM router.usage WHERE task_id = $1`,
      [taskId],
    );
    return { calls: r.calls, inputTokens: Number(r.input), cachedInputTokens: Number(r.cached), outputTokens: Number(r.output), costUsd: Number(r.cost) };
  }

  private async unreserve(qr: QueryRunner, held: { scopes: string[]; periods: string[]; estimate_usd: string }[]): Promise<void> {
    const amounts = new Map<string, { scope: string; period: string; units: bigint }>();
    for (const h of held) {
      h.scopes.forEach((scope, i) => {
        const k = rowKey({ scope, period: h.periods[i] });
        const prev = amounts.get(k) ?? { scope, period: h.periods[i], units: 0n };
        // numeric(20,10) text has exactly 10 decimals: summed as integers of 1e-10 USD, exact.
        prev.units += BigInt(h.estimate_usd.replace('.', ''));
        amounts.set(k, prev);
      });
    }
    const lines = uniqueRows([...amounts.values()]);
    if (lines.length === 0) return;
    await qr.query(LOCK_ROWS, [lines.map((l) => l.scope), lines.map((l) => l.period)]);
    await qr.query(
      `UPDATE router.budget_spend b SET reserved_usd = greatest(0, b.reserved_usd - k.amount / 1e10), updated_at = now()
         FROM unnest($1::text[], $2::text[], $3::numeric[]) AS k(scope, period, amount)
        WHERE b.scope = k.scope AND b.period = k.period`,
      [lines.map((l) => l.scope), lines.map((l) => l.period), lines.map((l) => l.units.toString())],
    );
  }

  private async fire(alert: BudgetAlert): Promise<void> {
    if (!this.options.onAlert) return;
    try {
      await this.options.onAlert(alert);
    } catch (err) {
      this.options.onAlertError?.(err, alert);
    }
  }

  private async transaction<T>(work: (qr: QueryRunner) => Promise<{ commit: boolean; value: T }>): Promise<T> {
    const qr = this.db.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction();
      let outcome: { commit: boolean; value: T };
      try {
        outcome = await work(qr);
      } catch (err) {
        await qr.rollbackTransaction();
        throw err;
      }
      if (outcome.commit) await qr.commitTransaction();
      else await qr.rollbackTransaction();
      return outcome.value;
    } finally {
      await qr.release();
    }
  }
}

/** RETURNING rows (TypeORM's plain `query` gives `[rows, count]` for UPDATE and DELETE). */
async function rows<R = unknown>(qr: QueryRunner, sql: string, params: unknown[]): Promise<R[]> {
  const res = await qr.query(sql, params, true);
  return res.records as R[];
}

function toExhausted(r: SpendRow): ExhaustedLine {
  return { scope: r.scope, period: r.period, limitUsd: Number(r.limit_usd), spentUsd: Number(r.spent_usd), reservedUsd: Number(r.reserved_usd) };
}
