import type { Agent, ChatMessage } from '@keel/contracts';

/**
 * Which model(s) a call goes to, decided from the agent's `routing` (pure):
 * the first matching rule (keywords, input size, task type), else the
 * difficulty classifier, else the agent's model; a cascade replaces the
 * single model with cheap-to-strong models; fallbacks follow on failure.
 */
export interface RoutePlan {
  /** Models tried in order as a cascade (one model when there is no cascade). */
  chain: string[];
  fallbacks: string[];
  minConfidence?: number;
  /** Cascade validation of an answer before it is accepted. */
  validate?: 'json';
  reason: string;
}

export interface RouteInput {
  model: string;
  messages: readonly ChatMessage[];
  inputTokens: number;
  taskType?: string;
}

export function planRoute(agent: Pick<Agent, 'routing'> | undefined, input: RouteInput): RoutePlan {
  const routing = agent?.routing;
  if (!routing) return { chain: [input.model], fallbacks: [], reason: 'agent model' };
  const fallbacks = routing.fallbacks;
  const text = userText(input.messages).toLowerCase();
  for (const [i, rule] of routing.rules.entries()) {
    const w = rule.when;
    const ok = (!w.keywords || w.keywords.some((k) => text.includes(k.toLowerCase())))
      && (w.minInputTokens === undefined || input.inputTokens >= w.minInputTokens)
      && (w.taskType === undefined || w.taskType === input.taskType);
    if (ok) return { chain: [rule.model], fallbacks, reason: `rule ${i + 1}` };
  }
  if (routing.classifier) {
    const score = difficulty(userText(input.messages));
    if (score >= routing.classifier.threshold) return { chain: [routing.classifier.hardModel], fallbacks, reason: `difficulty ${score.toFixed(2)} ≥ ${routing.classifier.threshold}` };
  }
  if (routing.cascade) {
    const { models, minConfidence, validate } = routing.cascade;
    return { chain: models, fallbacks, minConfidence, ...(validate ? { validate } : {}), reason: 'cascade' };
  }
  return { chain: [input.model], fallbacks, reason: 'agent model' };
}

function userText(messages: readonly ChatMessage[]): string {
  return messages.filter((m) => m.role === 'user').map((m) => m.content).join('\n');
}

/**
 * A small, transparent difficulty score in [0, 1] from signals that predict a
 * hard request: length, several questions, code, maths, and words asking for
 * reasoning. Not a trained model: a documented heuristic that routes the
 * obvious cases and is cheap enough to run on every call.
 */
export function difficulty(text: string): number {
  let score = 0;
  const words = text.split(/\s+/).filter(Boolean).length;
  score += Math.min(0.35, words / 600);
  const questions = (text.match(/\?/g) ?? []).length;
  if (questions >= 2) score += 0.1;
  if (/```|\bfunction\b|\bclass\b|=>|\bdef\b/.test(text)) score += 0.2;
  if (/[∑∫√]|\b(prove|derive|integral|theorem|complexity|optimi[sz]e)\b/i.test(text)) score += 0.25;
  if (/\b(analy[sz]e|compare|trade-?offs?|step by step|explain why|design|architecture|plan)\b/i.test(text)) score += 0.2;
  return Math.min(1, score);
}

/** Every model a call may end up on under this agent's routing (for a budget reservation that covers any of them). */
export function candidateModels(agent: Pick<Agent, 'routing'> | undefined, input: RouteInput): string[] {
  const plan = planRoute(agent, input);
  const rules = agent?.routing?.rules.map((r) => r.model) ?? [];
  const hard = agent?.routing?.classifier ? [agent.routing.classifier.hardModel] : [];
  return [...new Set([input.model, ...plan.chain, ...plan.fallbacks, ...rules, ...hard])];
}
