import { ConfigError } from '@keel/config';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Budget configuration and the pure decisions on it. Budgets come from the
 * file in `KEEL_BUDGETS_FILE` (YAML or JSON) and from an agent file's
 * `budgets:` key; the ledger (`budget.ledger.ts`) enforces them in Postgres.
 *
 * ```yaml
 * tenants:
 *   acme: {daily: {limitUsd: 10}, monthly: {limitUsd: 200}, perRequestCapUsd: 0.5}
 *   "*":  {daily: {limitUsd: 1}}            # every tenant without an entry of its own
 * users:
 *   acme: {bob: {daily: {limitUsd: 2}, onExceed: downgrade, downgradeModel: openai/gpt-4o-mini}}
 * agents:
 *   acme: {demo: {monthly: {limitUsd: 50}}}
 * ```
 * Periods are calendar days and months in UTC.
 */
const usd = z.number().finite().nonnegative();
const name = z.string().min(1).max(200);
const modelId = z.string().regex(/^[a-z0-9_-]+\/.+$/, 'model ids are provider/model, e.g. openai/gpt-4o-mini');

export const BudgetRuleSchema = z.object({
  daily: z.object({ limitUsd: usd }).strict().optional(),
  monthly: z.object({ limitUsd: usd }).strict().optional(),
  /** What a call that does not fit (budget or per-request cap) gets: refused, or retried once on `downgradeModel`. */
  onExceed: z.enum(['reject', 'downgrade']).default('reject'),
  downgradeModel: modelId.optional(),
  /** Largest pre-request estimate allowed for one call in this scope. */
  perRequestCapUsd: usd.optional(),
}).strict().refine((r) => r.onExceed !== 'downgrade' || r.downgradeModel !== undefined, {
  message: 'onExceed: downgrade needs a downgradeModel',
  path: ['downgradeModel'],
});
export type BudgetRule = z.output<typeof BudgetRuleSchema>;

/** Keyed by name; `*` stands for every name without an entry of its own. */
export const BudgetsConfigSchema = z.object({
  tenants: z.record(name, BudgetRuleSchema).default({}),
  /** tenant → user → rule. */
  users: z.record(name, z.record(name, BudgetRuleSchema)).default({}),
  /** tenant → agent → rule. */
  agents: z.record(name, z.record(name, BudgetRuleSchema)).default({}),
}).strict();
export type BudgetsConfig = z.output<typeof BudgetsConfigSchema>;

export const NO_BUDGETS: BudgetsConfig = { tenants: {}, users: {}, agents: {} };

/** A ConfigError, so a bad file stops the service with this message rather than a stack trace. */
export class BudgetConfigError extends ConfigError {
  constructor(message: string) {
    super([message]);
    this.name = new.target.name;
  }
}

function problems(error: z.ZodError, prefix = ''): string {
  return error.issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Parses a budgets file's text (YAML, of which JSON is a subset); an empty file means no budgets. */
export function parseBudgetsConfig(text: string, source: string): BudgetsConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new BudgetConfigError(`${source}: not valid YAML/JSON: ${(err as Error).message}`);
  }
  const parsed = BudgetsConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new BudgetConfigError(`${source}: invalid budgets: ${problems(parsed.error)}`);
  return parsed.data;
}

/** Loads `KEEL_BUDGETS_FILE` at boot; no file configured means no budgets. A broken file throws (naming path and field). */
export function loadBudgetsConfig(file: string | undefined): BudgetsConfig {
  if (!file) return NO_BUDGETS;
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BudgetConfigError(`cannot read budgets file ${path}: ${(err as Error).message}`);
  }
  return parseBudgetsConfig(text, path);
}

/** An agent file's `budgets:` key (kept by the agent schema's passthrough): the agent's rule in every tenant. */
export function parseAgentBudgets(agent: { name: string; budgets?: unknown }): BudgetRule | undefined {
  if (agent.budgets === undefined) return undefined;
  const parsed = BudgetRuleSchema.safeParse(agent.budgets);
  if (!parsed.success) throw new BudgetConfigError(`agent ${agent.name}: invalid budgets: ${problems(parsed.error, 'budgets')}`);
  return parsed.data;
}

export type ScopeKind = 'tenant' | 'user' | 'agent';

/** `tenant:acme`, `user:acme:bob`, `agent:acme:demo`; parts are URI-encoded so a `:` in a name cannot collide with another scope. */
export function scopeKey(kind: 'tenant', tenant: string): string;
export function scopeKey(kind: 'user' | 'agent', tenant: string, name: string): string;
export function scopeKey(kind: ScopeKind, tenant: string, name?: string): string {
  return [kind, tenant, ...(name === undefined ? [] : [name])].map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join(':');
}

/** `day:2026-11-24` and `month:2026-11`, in UTC. */
export function periodsAt(now: Date): { day: string; month: string } {
  const iso = now.toISOString();
  return { day: `day:${iso.slice(0, 10)}`, month: `month:${iso.slice(0, 7)}` };
}

export interface BudgetSubject {
  tenant: string;
  /** Absent when the caller has no user (budgets per user then do not apply). */
  userId?: string;
  agent: string;
}

export interface ScopeBudget {
  kind: ScopeKind;
  scope: string;
  rule: BudgetRule;
}

/** One row the ledger checks and charges: a scope's limit in one period. */
export interface BudgetLine {
  scope: string;
  period: string;
  limitUsd: number;
}

export interface BudgetPlan {
  scopes: ScopeBudget[];
  lines: BudgetLine[];
}

function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record && Object.hasOwn(record, key) ? record[key] : undefined;
}

// Named entries beat wildcards, and the operator's file beats the agent author's `budgets:`.
function nested(map: Readonly<Record<string, Readonly<Record<string, BudgetRule>>>>, tenant: string, name: string, between?: BudgetRule): BudgetRule | undefined {
  return own(own(map, tenant), name) ?? own(own(map, '*'), name) ?? between ?? own(own(map, tenant), '*') ?? own(own(map, '*'), '*');
}

/** The rules that apply to a call, tenant first, and the (scope, period) lines they limit at `now`. */
export function resolveBudgets(config: BudgetsConfig, subject: BudgetSubject, opts: { agentBudgets?: BudgetRule; now?: Date } = {}): BudgetPlan {
  const scopes: ScopeBudget[] = [];
  const tenantRule = own(config.tenants, subject.tenant) ?? own(config.tenants, '*');
  if (tenantRule) scopes.push({ kind: 'tenant', scope: scopeKey('tenant', subject.tenant), rule: tenantRule });
  if (subject.userId !== undefined) {
    const userRule = nested(config.users, subject.tenant, subject.userId);
    if (userRule) scopes.push({ kind: 'user', scope: scopeKey('user', subject.tenant, subject.userId), rule: userRule });
  }
  const agentRule = nested(config.agents, subject.tenant, subject.agent, opts.agentBudgets);
  if (agentRule) scopes.push({ kind: 'agent', scope: scopeKey('agent', subject.tenant, subject.agent), rule: agentRule });

  const { day, month } = periodsAt(opts.now ?? new Date());
  const lines: BudgetLine[] = [];
  for (const s of scopes) {
    if (s.rule.daily) lines.push({ scope: s.scope, period: day, limitUsd: s.rule.daily.limitUsd });
    if (s.rule.monthly) lines.push({ scope: s.scope, period: month, limitUsd: s.rule.monthly.limitUsd });
  }
  return { scopes, lines };
}

/** An admin's temporary limit for a tenant's or a user's day or month budget (`router.budget_overrides`). */
export interface BudgetOverride {
  /** `scopeKey('tenant', t)` or `scopeKey('user', t, userId)`. */
  scope: string;
  period: 'day' | 'month';
  limitUsd: number;
  expiresAt: Date;
}

/**
 * The plan with each line's limit replaced by an override of the same scope
 * and period kind that has not expired at `now`. An override replaces a
 * configured limit; it does not create a budget where none is configured.
 */
export function applyOverrides(plan: BudgetPlan, overrides: readonly BudgetOverride[], now: Date): BudgetPlan {
  const active = overrides.filter((o) => o.expiresAt.getTime() > now.getTime());
  if (active.length === 0) return plan;
  const lines = plan.lines.map((l) => {
    const kind = l.period.startsWith('day:') ? 'day' : 'month';
    const o = active.find((x) => x.scope === l.scope && x.period === kind);
    return o ? { ...l, limitUsd: o.limitUsd } : l;
  });
  return { ...plan, lines };
}

export type BudgetDecision =
  | { action: 'allow' }
  | { action: 'reject'; reason: 'per_request_cap' | 'budget_exhausted'; scope: string; period?: string; message: string }
  | { action: 'downgrade'; reason: 'per_request_cap' | 'budget_exhausted'; scope: string; period?: string; model: string; message: string };

/**
 * Strictest wins: any violated scope that rejects makes the call rejected;
 * otherwise the first violated scope (tenant, user, agent order) picks the
 * cheaper model. A downgrade to the model already in use is a reject, so a
 * call is downgraded at most once.
 */
function decide(violated: { s: ScopeBudget; period?: string; message: string }[], reason: 'per_request_cap' | 'budget_exhausted', model: string): BudgetDecision {
  if (violated.length === 0) return { action: 'allow' };
  const rejecting = violated.find((v) => v.s.rule.onExceed === 'reject' || !v.s.rule.downgradeModel || v.s.rule.downgradeModel === model);
  const pick = rejecting ?? violated[0];
  const base = { reason, scope: pick.s.scope, ...(pick.period === undefined ? {} : { period: pick.period }) };
  if (rejecting) return { action: 'reject', ...base, message: pick.message };
  const target = pick.s.rule.downgradeModel as string;
  return { action: 'downgrade', ...base, model: target, message: `${pick.message}; downgrading ${model} to ${target}` };
}

/** Before any reservation: is the call's estimate above a per-request cap of a scope that applies? */
export function checkPerRequestCap(plan: BudgetPlan, estimateUsd: number, model: string): BudgetDecision {
  const violated = plan.scopes
    .filter((s) => s.rule.perRequestCapUsd !== undefined && estimateUsd > s.rule.perRequestCapUsd)
    .map((s) => ({ s, message: `estimated cost $${estimateUsd} of ${model} is above the per-request cap $${s.rule.perRequestCapUsd} of ${s.scope}` }));
  return decide(violated, 'per_request_cap', model);
}

/** After a refused reservation: what the rules of the exhausted (scope, period) rows say. */
export function onBudgetExhausted(plan: BudgetPlan, exhausted: readonly { scope: string; period: string }[], model: string): BudgetDecision {
  const violated = exhausted.flatMap((e) => {
    const s = plan.scopes.find((x) => x.scope === e.scope);
    return s ? [{ s, period: e.period, message: `budget of ${e.scope} for ${e.period} is exhausted` }] : [];
  });
  // A row the plan does not know (should not happen) still blocks the call.
  if (violated.length === 0 && exhausted.length > 0) {
    const e = exhausted[0];
    return { action: 'reject', reason: 'budget_exhausted', scope: e.scope, period: e.period, message: `budget of ${e.scope} for ${e.period} is exhausted` };
  }
  violated.sort((a, b) => plan.scopes.indexOf(a.s) - plan.scopes.indexOf(b.s));
  return decide(violated, 'budget_exhausted', model);
}
