import { DEFAULT_APPROVALS, INPUT_REVIEW_TOOL } from '@keel/contracts';
import type { Agent, RiskTier, ToolCall } from '@keel/contracts';
import { effectOf } from './intent.policy';
import type { TaskIntent, ToolProfile } from './intent.policy';

/**
 * Risk policy for one proposed tool call (design.md: risk tiers and
 * confidence thresholds). Pure: the gate service stores and answers; this
 * only decides how much human attention a call needs.
 *
 * tier  = the agent's `risk` for the tool, else a built-in default;
 * then  = raised (never lowered) by the model's confidence:
 *         ≥ autoAbove (0.9) unchanged, ≥ reviewAbove (0.6) at least `review`,
 *         below it `approve`; the agent file's `approvals:` sets both.
 */
export type PolicyAction = 'run' | 'review' | 'approve' | 'block';

export interface PolicyDecision {
  tier: RiskTier;
  /** run: execute now; review: execute now and record a review; approve: a person must say yes first; block: never run (policy). */
  action: PolicyAction;
  reason: string;
}

/** Defaults of the agent file's `approvals.autoAbove` / `approvals.reviewAbove`. */
export const CONFIDENCE_AUTO: number = DEFAULT_APPROVALS.autoAbove;
export const CONFIDENCE_REVIEW: number = DEFAULT_APPROVALS.reviewAbove;

const RANK: Record<RiskTier, number> = { auto: 0, review: 1, approve: 2 };
const ACTION: Record<RiskTier, PolicyAction> = { auto: 'run', review: 'review', approve: 'approve' };
const READ_ONLY_HTTP = new Set(['GET', 'HEAD']);

/** The built-in tier of a tool when the agent file says nothing. Unknown tools get the strictest tier. */
export function defaultTier(call: Pick<ToolCall, 'name' | 'arguments'>): { tier: RiskTier; why: string } {
  return builtInTier(call) ?? { tier: 'approve', why: `${call.name} has no known risk profile` };
}

function builtInTier(call: Pick<ToolCall, 'name' | 'arguments'>): { tier: RiskTier; why: string } | undefined {
  switch (call.name) {
    case 'calculator':
      return { tier: 'auto', why: 'calculator is read-only' };
    case 'noop':
      return { tier: 'auto', why: 'noop has no effect' };
    case 'http_request': {
      const method = typeof call.arguments.method === 'string' ? call.arguments.method.toUpperCase() : undefined;
      return method && READ_ONLY_HTTP.has(method)
        ? { tier: 'auto', why: `http_request ${method} is read-only` }
        : { tier: 'review', why: `http_request ${method ?? '(no method)'} may change remote state` };
    }
    case 'run_code':
      return { tier: 'review', why: 'run_code runs arbitrary code (sandboxed)' };
    default:
      return undefined;
  }
}

/** The tier when the agent file sets none: built in, else the registry's (`spec.risk`), else approve. */
function baseTier(agent: Pick<Agent, 'tools'>, call: Pick<ToolCall, 'name' | 'arguments'>, spec?: ToolProfile): { tier: RiskTier; why: string } {
  const override = agent.tools.find((t) => t.name === call.name)?.risk;
  if (override) return { tier: override, why: `agent sets ${call.name} to risk ${override}` };
  const builtIn = builtInTier(call);
  if (builtIn) return builtIn;
  if (spec?.risk) return { tier: spec.risk, why: `${call.name} is registered with risk ${spec.risk}${spec.permission ? ` (permission ${spec.permission})` : ''}` };
  return defaultTier(call);
}

/**
 * `intent` (from `classifyIntent` of the task input): a `read_only` task
 * proposing a call that writes or destroys is raised to `approve`, or
 * `block`ed when the agent's `guardrail.intentMismatch` says so.
 *
 * `spec` (the tool's entry in `keel.v1.tools.describe`): permission and risk
 * the tool registry declares, used for tools with no built-in profile here
 * (HTTP tools declared in agent files, MCP tools); the agent file still wins.
 */
export function decide(
  agent: Pick<Agent, 'tools'> & { guardrail?: Pick<Agent['guardrail'], 'intentMismatch'>; approvals?: { autoAbove?: number; reviewAbove?: number } }, call: Pick<ToolCall, 'name' | 'arguments'>, confidence?: number, intent?: TaskIntent, spec?: ToolProfile,
): PolicyDecision {
  // An escalated user input held for a person: always a gate, whatever confidence, intent or overrides say.
  if (call.name === INPUT_REVIEW_TOOL) {
    return { tier: 'approve', action: 'approve', reason: 'the guardrail escalated this user input (possible prompt injection): approve to run the task with it, reject to fail the task' };
  }
  const base = baseTier(agent, call, spec);
  const reasons = [base.why];
  let tier = base.tier;

  const autoAbove = agent.approvals?.autoAbove ?? CONFIDENCE_AUTO;
  const reviewAbove = agent.approvals?.reviewAbove ?? CONFIDENCE_REVIEW;
  if (confidence !== undefined && confidence < autoAbove) {
    const floor: RiskTier = confidence < reviewAbove ? 'approve' : 'review';
    if (RANK[floor] > RANK[tier]) {
      tier = floor;
      reasons.push(`model confidence ${confidence} is below ${floor === 'approve' ? reviewAbove : autoAbove}`);
    }
  }
  if (intent === 'read_only') {
    const effect = effectOf(agent, call, spec);
    if (effect !== 'read') {
      reasons.push(`the task only asks to read, but this ${call.name} call would ${effect === 'destructive' ? 'destroy' : 'change'} something (least privilege)`);
      if (agent.guardrail?.intentMismatch === 'block') return { tier: 'approve', action: 'block', reason: reasons.join('; ') };
      tier = 'approve';
    }
  }
  return { tier, action: ACTION[tier], reason: reasons.join('; ') };
}
