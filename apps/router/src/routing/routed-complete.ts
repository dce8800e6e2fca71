import { KeelError } from '@keel/contracts';
import type { Agent, CompleteRequest, CompleteResponse } from '@keel/contracts';
import type { CircuitBreakers } from '@keel/resilience';
import { planRoute } from './route-plan';

/**
 * One model turn through the agent's routing: the cascade's models in order
 * (escalating when an answer is empty, fails the cascade's validation, or its
 * confidence is below the bar),
 * each with the fallbacks behind it when it fails after its own retries or
 * its breaker is open. The scripted model is exempt from breakers: it is
 * deterministic and in-process, so a breaker would only hide injected faults.
 */
export interface RoutedDeps {
  /** `wantConfidence`: the cascade judges this answer (not its last model), so providers should report a confidence. */
  complete: (req: CompleteRequest, opts: { wantConfidence: boolean }) => Promise<CompleteResponse>;
  breakers: CircuitBreakers;
  inputTokens: (req: CompleteRequest) => number;
  onFallback?: (from: string, to: string | undefined, error: string) => void;
}

/** Errors that say nothing about the model (bad request, exhausted script): no fallback would help. */
const NOT_A_MODEL_FAILURE = new Set(['invalid_request', 'script_exhausted', 'validation_failed']);

export async function routedComplete(req: CompleteRequest, agent: Agent | undefined, deps: RoutedDeps): Promise<CompleteResponse> {
  const plan = planRoute(agent, { model: req.model, messages: req.messages, inputTokens: deps.inputTokens(req), taskType: req.taskType });
  const fallbacks: { model: string; error: string }[] = [];
  const escalations: NonNullable<CompleteResponse['route']>['escalations'] = [];
  let cursor = req.scriptCursor;
  let consumed = 0;

  const attempt = async (model: string, wantConfidence: boolean): Promise<CompleteResponse> => {
    const candidates = [model, ...plan.fallbacks.filter((m) => m !== model)];
    let lastError: KeelError | undefined;
    for (const [i, candidate] of candidates.entries()) {
      const guarded = !candidate.startsWith('scripted/');
      if (guarded && !deps.breakers.allow(candidate)) {
        fallbacks.push({ model: candidate, error: 'circuit breaker open' });
        deps.onFallback?.(candidate, candidates[i + 1], 'circuit breaker open');
        continue;
      }
      try {
        const res = await deps.complete({ ...req, model: candidate, scriptCursor: cursor }, { wantConfidence });
        if (guarded) deps.breakers.success(candidate);
        cursor += res.scriptTurnsConsumed;
        consumed += res.scriptTurnsConsumed;
        return res;
      } catch (err) {
        const e = KeelError.wrap(err);
        const used = (e.details as { scriptTurnsConsumed?: number } | undefined)?.scriptTurnsConsumed ?? 0;
        cursor += used;
        consumed += used;
        if (NOT_A_MODEL_FAILURE.has(e.code)) throw e;
        if (guarded) deps.breakers.failure(candidate);
        fallbacks.push({ model: candidate, error: `${e.code}: ${e.message}` });
        deps.onFallback?.(candidate, candidates[i + 1], e.message);
        lastError = e;
      }
    }
    throw new KeelError(lastError?.code ?? 'unavailable', `no model could answer: ${fallbacks.map((f) => `${f.model} (${f.error})`).join('; ')}`, { details: { ...(lastError?.details as object | undefined), fallbacks, scriptTurnsConsumed: consumed }, cause: lastError });
  };

  for (const [i, model] of plan.chain.entries()) {
    const last = i === plan.chain.length - 1;
    const res = await attempt(model, !last && plan.minConfidence !== undefined);
    const why = !res.content && res.toolCalls.length === 0 ? 'empty answer'
      : plan.validate === 'json' && res.toolCalls.length === 0 && !isJson(res.content) ? 'answer is not valid JSON'
        : plan.minConfidence !== undefined && res.confidence !== undefined && res.confidence < plan.minConfidence ? `confidence ${res.confidence} < ${plan.minConfidence}` : undefined;
    if (why && !last) {
      escalations.push({ model: res.model, why, usage: res.usage, costUsd: res.costUsd });
      continue;
    }
    // The turn cost what every call in it cost: passed-over cascade answers are paid for too.
    const usage = escalations.reduce((u, e) => addUsage(u, e.usage), res.usage);
    const costUsd = escalations.reduce((c, e) => c + (e.costUsd ?? 0), res.costUsd);
    return { ...res, usage, costUsd, scriptTurnsConsumed: consumed, route: { requested: req.model, used: res.model, reason: plan.reason, fallbacks, escalations } };
  }
  throw new KeelError('internal', 'empty routing chain');
}

function isJson(text: string | null): boolean {
  if (text === null) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function addUsage(a: CompleteResponse['usage'], b: CompleteResponse['usage'] | undefined): CompleteResponse['usage'] {
  if (!b) return a;
  const cached = (a.cachedInputTokens ?? 0) + (b.cachedInputTokens ?? 0);
  return { inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens, ...(cached ? { cachedInputTokens: cached } : {}) };
}

/** The answering call's own usage: the turn's total minus what passed-over cascade answers used. */
export function ownUsage(res: CompleteResponse): CompleteResponse['usage'] {
  const esc = res.route?.escalations ?? [];
  const minus = (k: 'inputTokens' | 'outputTokens' | 'cachedInputTokens') => esc.reduce((n, e) => n - (e.usage?.[k] ?? 0), res.usage[k] ?? 0);
  const cached = minus('cachedInputTokens');
  return { inputTokens: minus('inputTokens'), outputTokens: minus('outputTokens'), ...(cached ? { cachedInputTokens: cached } : {}) };
}
