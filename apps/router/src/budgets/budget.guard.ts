import type { ChatMessage, ToolSpec } from '@keel/contracts';
import { DEFAULT_PRICES } from '../pricing/price-table';
import type { PriceTable } from '../pricing/price-table';
import { applyOverrides, checkPerRequestCap, onBudgetExhausted, resolveBudgets } from './budget.policy';
import type { BudgetOverride, BudgetPlan, BudgetRule, BudgetsConfig, BudgetSubject } from './budget.policy';
import type { BudgetLedger, ExhaustedLine, Reservation } from './budget.ledger';
import { DEFAULT_MAX_OUTPUT_TOKENS, estimateCost } from './estimate';
import type { CostEstimate } from './estimate';

export interface AdmitRequest extends BudgetSubject {
  taskId: string;
  model: string;
  messages: readonly ChatMessage[];
  tools?: readonly ToolSpec[];
  /** The agent file's `budgets:` (see `parseAgentBudgets`). */
  agentBudgets?: BudgetRule;
  /** Model calls this turn may make (a cascade makes up to one per model); the estimate covers all of them. */
  calls?: number;
  /** Admins' overrides of the caller's tenant (`applyOverrides`): an active one replaces its line's configured limit. */
  overrides?: readonly BudgetOverride[];
  now?: Date;
}

export type Admission =
  | { ok: true; model: string; downgradedFrom?: string; estimate: CostEstimate; reservation: Reservation }
  | { ok: false; reason: 'per_request_cap' | 'budget_exhausted'; scope: string; period?: string; message: string; estimate: CostEstimate; exhausted?: ExhaustedLine[] };

export interface BudgetGuardOptions {
  prices?: PriceTable;
  maxOutputTokens?: number;
}

/**
 * The pre-request gate: estimate → per-request cap → reservation, with at
 * most one downgrade (to the rule's `downgradeModel`) when a cap or budget
 * says so. The cheaper model must itself fit: a downgrade never spends past a
 * limit, so a budget spent to the cent rejects every model. On `ok: true` the
 * caller calls the returned `model`, then `ledger.settle` or `ledger.release`.
 */
export class BudgetGuard {
  constructor(
    private readonly config: BudgetsConfig,
    private readonly ledger: BudgetLedger,
    private readonly options: BudgetGuardOptions = {},
  ) {}

  async admit(req: AdmitRequest): Promise<Admission> {
    const now = req.now ?? new Date();
    const plan = applyOverrides(resolveBudgets(this.config, req, { agentBudgets: req.agentBudgets, now }), req.overrides ?? [], now);
    return this.attempt(req, plan, req.model, undefined);
  }

  private async attempt(req: AdmitRequest, plan: BudgetPlan, model: string, downgradedFrom: string | undefined): Promise<Admission> {
    const one = estimateCost({
      model,
      messages: req.messages,
      tools: req.tools,
      maxOutputTokens: this.options.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
      prices: this.options.prices ?? DEFAULT_PRICES,
    });
    const estimate = { ...one, costUsd: one.costUsd * Math.max(1, req.calls ?? 1) };
    const downgraded = downgradedFrom === undefined ? {} : { downgradedFrom };

    // Before any reservation: an estimate above a cap spends nothing and holds nothing.
    const cap = checkPerRequestCap(plan, estimate.costUsd, model);
    if (cap.action === 'downgrade' && downgradedFrom === undefined) return this.attempt(req, plan, cap.model, model);
    if (cap.action !== 'allow') return { ok: false, reason: cap.reason, scope: cap.scope, message: refused(cap.message, downgradedFrom), estimate };

    const reserved = await this.ledger.reserve({ taskId: req.taskId, lines: plan.lines, estimateUsd: estimate.costUsd });
    if (reserved.ok) return { ok: true, model, ...downgraded, estimate, reservation: reserved.reservation };

    const decision = onBudgetExhausted(plan, reserved.exhausted, model);
    if (decision.action === 'downgrade' && downgradedFrom === undefined) return this.attempt(req, plan, decision.model, model);
    // 'allow' cannot follow a refused reservation; the first exhausted row is named either way.
    const where = decision.action === 'allow' ? reserved.exhausted[0] : decision;
    const message = `budget of ${where.scope}${where.period ? ` for ${where.period}` : ''} is exhausted for ${model} (estimate $${estimate.costUsd})`;
    return { ok: false, reason: 'budget_exhausted', scope: where.scope, ...(where.period ? { period: where.period } : {}), message: refused(message, downgradedFrom), estimate, exhausted: reserved.exhausted };
  }
}

function refused(message: string, downgradedFrom: string | undefined): string {
  // A downgrade decision's own text ("downgrading …") is dropped: a second downgrade is never taken.
  const base = message.replace(/; downgrading .*$/, '');
  return downgradedFrom === undefined ? base : `${base} (already downgraded from ${downgradedFrom})`;
}
