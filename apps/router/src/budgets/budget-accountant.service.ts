import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import type { Agent, CompleteRequest, CompleteResponse } from '@keel/contracts';
import { DataSource } from '@keel/persistence';
import { ENV, LOGGER } from '@keel/service-kit';
import { counter, gauge } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { loadPriceTable } from '../pricing/price-table';
import type { PriceTable } from '../pricing/price-table';
import { notifyBudgetAlert } from './budget-alert.webhook';
import { BudgetGuard } from './budget.guard';
import { BudgetOverrides } from './budget-overrides';
import { BudgetLedger } from './budget.ledger';
import type { BudgetAlert, Reservation } from './budget.ledger';
import { loadBudgetsConfig, parseAgentBudgets, resolveBudgets } from './budget.policy';
import type { BudgetsConfig } from './budget.policy';
import { UsageRecorder } from './usage.recorder';
import { estimateCost } from './estimate';
import { ownUsage } from '../routing/routed-complete';
import { randomUUID } from 'node:crypto';

const alertsTotal = counter('keel_budget_alerts_total', 'Budget thresholds crossed (80 %), by scope kind', ['kind']);
const rejected = counter('keel_budget_rejections_total', 'Model calls refused or downgraded by a budget', ['action', 'reason']);
const spendUsd = gauge('keel_cost_usd', 'Model spend in USD of the current day and month, per tenant (from recorded usage, every minute)', ['tenant', 'period']);
const remainingUsd = gauge('keel_budget_remaining_usd', 'Budget left in the current period, per scope', ['scope', 'period']);

export interface BudgetEnv {
  KEEL_PRICES_FILE?: string;
  KEEL_BUDGETS_FILE?: string;
  KEEL_BUDGET_WEBHOOK_URL?: string;
  KEEL_BUDGET_MAX_OUTPUT_TOKENS: number;
}

export interface Admission {
  model: string;
  downgradedFrom?: string;
  reservation?: Reservation;
  /** Output cap the reservation assumed; sent to the provider so the estimate stays an upper bound. */
  maxOutputTokens?: number;
}

/**
 * Budgets and usage around one model call: admit (estimate, per-request cap,
 * atomic reservation, at most one downgrade) → call → settle the real cost
 * (or release). Calls no budget applies to skip the reservation and have
 * their usage written in batches, so an unbudgeted tenant pays no round trip.
 */
@Injectable()
export class BudgetAccountant implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly prices: PriceTable;
  private readonly config: BudgetsConfig;
  private readonly ledger: BudgetLedger;
  private readonly guard: BudgetGuard;
  private readonly recorder: UsageRecorder;
  private sweeper?: NodeJS.Timeout;

  constructor(
    @Inject(DataSource) private readonly db: DataSource, @Inject(ENV) private readonly env: BudgetEnv, @Inject(LOGGER) private readonly logger: Logger,
    @Inject(BudgetOverrides) private readonly overrides: BudgetOverrides,
  ) {
    this.prices = loadPriceTable(env.KEEL_PRICES_FILE);
    this.config = loadBudgetsConfig(env.KEEL_BUDGETS_FILE);
    this.ledger = new BudgetLedger(db, { prices: this.prices });
    this.guard = new BudgetGuard(this.config, this.ledger, { prices: this.prices, maxOutputTokens: env.KEEL_BUDGET_MAX_OUTPUT_TOKENS });
    this.recorder = new UsageRecorder(db, this.prices, (err) => this.logger.error({ err }, 'could not write usage rows'));
  }

  onApplicationBootstrap(): void {
    // A router that died mid-call leaves its reservation; give such money back after 10 minutes.
    this.sweeper = setInterval(() => {
      void this.ledger.releaseStale(600_000).catch(() => undefined);
      void this.sampleSpend().catch(() => undefined);
    }, 60_000);
    this.sweeper.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    await this.recorder.flush();
  }

  /**
   * `candidates` lists the models routing may use for this call (rules, fallbacks; computed only when a
   * budget applies); the reservation is made for the dearest, so whichever answers, its cost fits it.
   */
  /** Daily and monthly cost per tenant for dashboards (budgets have their own exact accounting). */
  async sampleSpend(): Promise<void> {
    const rows: { tenant: string; day: string; month: string }[] = await this.db.query(
      `SELECT tenant, coalesce(sum(cost_usd) FILTER (WHERE at >= date_trunc('day', now())), 0) AS day, coalesce(sum(cost_usd), 0) AS month
         FROM router.usage WHERE at >= date_trunc('month', now()) GROUP BY tenant`,
    );
    for (const r of rows) {
      spendUsd.set({ tenant: r.tenant, period: 'day' }, Number(r.day));
      spendUsd.set({ tenant: r.tenant, period: 'month' }, Number(r.month));
    }
  }

  async admit(req: CompleteRequest, agent: Agent | undefined, route: () => { models: readonly string[]; calls: number } = () => ({ models: [req.model], calls: 1 })): Promise<Admission> {
    const agentBudgets = agent ? parseAgentBudgets(agent) : undefined;
    const plan = resolveBudgets(this.config, { tenant: req.tenant, userId: req.userId, agent: req.agent }, { agentBudgets });
    if (plan.scopes.length === 0) return { model: req.model };
    const maxOutputTokens = this.env.KEEL_BUDGET_MAX_OUTPUT_TOKENS;
    const { models, calls } = route();
    const dearest = models.reduce((best, m) =>
      estimateCost({ model: m, messages: req.messages, tools: req.tools, maxOutputTokens, prices: this.prices }).costUsd >
      estimateCost({ model: best, messages: req.messages, tools: req.tools, maxOutputTokens, prices: this.prices }).costUsd ? m : best, req.model);
    // Admins' overrides (PUT /v1/admin/budgets/overrides) replace configured limits; read only when a limit applies.
    const overrides = plan.lines.length > 0 ? await this.overrides.active(req.tenant) : [];
    const a = await this.guard.admit({ taskId: req.taskId, tenant: req.tenant, userId: req.userId, agent: req.agent, model: dearest, messages: req.messages, tools: req.tools, agentBudgets, calls, overrides });
    if (!a.ok) {
      rejected.inc({ action: 'reject', reason: a.reason });
      throw new KeelError('budget_exceeded', a.message, { details: { scope: a.scope, period: a.period, estimateUsd: a.estimate.costUsd } });
    }
    if (a.downgradedFrom) {
      rejected.inc({ action: 'downgrade', reason: 'budget' });
      return { model: a.model, downgradedFrom: a.downgradedFrom, reservation: a.reservation, maxOutputTokens };
    }
    // Not downgraded: routing still starts from the requested model (the reservation covers the dearest).
    return { model: req.model, reservation: a.reservation, maxOutputTokens };
  }

  /**
   * Records what the turn really cost, call by call: the answering call against
   * its reservation, and each passed-over cascade answer as its own usage row
   * (charged to the same budgets). Returns the budget effects for the task's events.
   */
  async settle(req: CompleteRequest, admission: Admission, res: CompleteResponse, cacheHit = false): Promise<CompleteResponse['budget']> {
    const base = { tenant: req.tenant, userId: req.userId, agent: req.agent, taskId: req.taskId, step: req.step, cacheHit };
    const calls = [
      { model: res.model, usage: ownUsage(res) },
      ...(res.route?.escalations ?? []).filter((e) => e.usage).map((e) => ({ model: e.model, usage: e.usage! })),
    ];
    if (!admission.reservation) {
      for (const c of calls) this.recorder.record({ ...base, ...c });
      return undefined;
    }
    const alerts: BudgetAlert[] = [];
    for (const [i, c] of calls.entries()) {
      // Extra calls settle against zero-estimate reservations on the same budget rows.
      const reservation = i === 0 ? admission.reservation : { ...admission.reservation, id: randomUUID(), estimateUsd: 0 };
      alerts.push(...(await this.ledger.settle(reservation, { ...base, ...c })).alerts);
    }
    for (const alert of alerts) this.alert(alert);
    for (const line of admission.reservation.lines) {
      void this.ledger.remaining(line.scope).then((rows) => rows.forEach((r) => remainingUsd.set({ scope: r.scope, period: r.period }, r.remainingUsd))).catch(() => undefined);
    }
    return {
      ...(admission.downgradedFrom ? { downgradedFrom: admission.downgradedFrom } : {}),
      alerts: alerts.map(({ scope, period, threshold, limitUsd, spentUsd }) => ({ scope, period, threshold, limitUsd, spentUsd })),
    };
  }

  /**
   * A batched turn: keep its reservation past the stale sweep until the batch
   * can no longer complete (the provider's window plus a margin).
   */
  async holdForBatch(admission: Admission, until: Date): Promise<void> {
    if (admission.reservation) await this.ledger.hold(admission.reservation, until);
  }

  /**
   * Settles a batched turn at the batch price. Idempotent (a poll that re-runs
   * after a crash records nothing twice): the usage row's id is the
   * reservation's, or `usageId` when no budget applies.
   */
  async settleBatch(req: CompleteRequest, admission: Admission, res: CompleteResponse, usageId: string): Promise<CompleteResponse['budget']> {
    const reservation = admission.reservation ?? { id: usageId, taskId: req.taskId, estimateUsd: 0, lines: [] };
    const { alerts } = await this.ledger.settle(reservation, {
      tenant: req.tenant, userId: req.userId, agent: req.agent, taskId: req.taskId, step: req.step, model: res.model, usage: ownUsage(res), batch: true,
    });
    for (const alert of alerts) this.alert(alert);
    return admission.reservation
      ? { alerts: alerts.map(({ scope, period, threshold, limitUsd, spentUsd }) => ({ scope, period, threshold, limitUsd, spentUsd })) }
      : undefined;
  }

  async release(admission: Admission): Promise<void> {
    if (admission.reservation) await this.ledger.release(admission.reservation).catch((err: unknown) => this.logger.warn({ err }, 'could not release a budget reservation'));
  }

  private alert(alert: BudgetAlert): void {
    alertsTotal.inc({ kind: alert.scope.split(':')[0] });
    this.logger.warn({ budget_alert: alert }, `ALERT budget ${alert.scope} passed ${Math.round(alert.threshold * 100)} % for ${alert.period}`);
    notifyBudgetAlert(this.env.KEEL_BUDGET_WEBHOOK_URL, alert, (err) => this.logger.warn({ err }, 'budget alert webhook failed'));
  }
}
