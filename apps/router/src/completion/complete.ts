import { KeelError } from '@keel/contracts';
import type { Attempt, CompleteRequest, CompleteResponse } from '@keel/contracts';
import { DEFAULT_PRICES, quote } from '../pricing/price-table';
import type { PriceTable } from '../pricing/price-table';
import { ProviderError } from '../providers/provider';
import type { ModelProvider, ProviderCall, ProviderResult } from '../providers/provider';
import { SCRIPTED_PROVIDER_ID } from '../providers/scripted.provider';
import type { RetryPolicy } from '../retries/retry-policy';
import { raceAbort } from '../retries/timers';
import type { Sleep } from '../retries/timers';
import { countOutputTokens, countPromptTokens } from '@keel/text';

export const DEFAULT_ATTEMPT_TIMEOUT_MS = 60_000;

export interface CompleteDeps {
  /** Keyed by provider id, the `provider` of `provider/model`. */
  providers: ReadonlyMap<string, ModelProvider>;
  policy: RetryPolicy;
  now?: () => number;
  /** Between attempts; defaults to the policy's sleep. */
  sleep?: Sleep;
  /** Upper bound for one attempt; the deadline may cut it shorter. */
  attemptTimeoutMs?: number;
  prices?: PriceTable;
  /** Told when a model has no price (its cost is reported as 0), e.g. to count it in a metric. */
  onUnpricedModel?: (model: string) => void;
  /** Ask the provider for a confidence (a cascade will judge the answer). */
  wantConfidence?: boolean;
}

/** What a failed `complete` carries in `KeelError.details`, for the orchestrator's events. */
export interface CompleteFailureDetails {
  model: string;
  attempts: Attempt[];
  scriptTurnsConsumed: number;
  status?: number;
}

/**
 * One model call with retries: picks the provider, bounds each attempt by the
 * attempt timeout and the request deadline, retries per policy, and accounts
 * tokens and cost. Every attempt, failed or not, is reported.
 */
export async function complete(req: CompleteRequest, deps: CompleteDeps): Promise<CompleteResponse> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number, signal?: AbortSignal) => deps.policy.sleep(ms, signal));
  const attemptTimeoutMs = deps.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  const { providerId, modelName } = splitModel(req.model);
  const provider = deps.providers.get(providerId);
  if (!provider) {
    const known = [...deps.providers.keys()].sort().join(', ') || 'none';
    throw new KeelError('invalid_request', `unknown model provider "${providerId}" in model "${req.model}" (configured providers: ${known})`);
  }
  const scripted = provider.id === SCRIPTED_PROVIDER_ID;

  const attempts: Attempt[] = [];
  let scriptTurnsConsumed = 0;
  const fail = (code: KeelError['code'], message: string, cause: unknown, extra: { retryable?: boolean; retryAfterMs?: number } = {}): KeelError => {
    const details: CompleteFailureDetails = { model: req.model, attempts, scriptTurnsConsumed };
    if (cause instanceof ProviderError && cause.status !== undefined) details.status = cause.status;
    return new KeelError(code, message, { ...extra, details, cause });
  };

  for (let attempt = 1; ; attempt++) {
    const started = now();
    const remainingMs = req.deadline - started;
    if (remainingMs <= 0) {
      const last = attempts.at(-1);
      throw fail('timeout', `deadline passed before model call attempt ${attempt} to ${req.model}${last?.error ? ` (last error: ${last.error.message})` : ''}`, undefined);
    }

    const timeoutMs = Math.min(remainingMs, attemptTimeoutMs);
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const bound = timeoutMs < attemptTimeoutMs ? 'the request deadline' : 'the attempt timeout';
      controller.abort(new ProviderError('timeout', `model call attempt ${attempt} to ${req.model} timed out after ${timeoutMs} ms (${bound})`));
    }, timeoutMs);

    const call: ProviderCall = { model: modelName, messages: req.messages, tools: req.tools, signal: controller.signal, attempt };
    if (req.maxOutputTokens !== undefined) call.maxOutputTokens = req.maxOutputTokens;
    if (deps.wantConfidence) call.wantConfidence = true;
    if (scripted && req.script !== undefined) call.script = { turns: req.script, cursor: req.scriptCursor };

    let outcome: { ok: true; result: ProviderResult } | { ok: false; error: KeelError };
    try {
      outcome = { ok: true, result: await raceAbort(provider.call(call), controller.signal) };
    } catch (err) {
      outcome = { ok: false, error: normalize(err, controller.signal) };
    } finally {
      clearTimeout(timer);
    }
    // Attempt k uses turn cursor + k - 1; past the end of the script there was no turn to use.
    if (call.script && call.script.cursor + attempt - 1 < call.script.turns.length) scriptTurnsConsumed++;

    const record: Attempt = { attempt, latencyMs: Math.max(0, now() - started) };
    attempts.push(record);

    if (outcome.ok) return toCompleteResponse(req, outcome.result, attempts, scriptTurnsConsumed, deps);

    const failure = outcome.error;
    record.error = { code: failure.code, message: failure.message };
    if (failure instanceof ProviderError && failure.status !== undefined) record.error.status = failure.status;

    const decision = deps.policy.decide({ attempt, error: failure, now: now(), deadline: req.deadline });
    if (!decision.retry) {
      if (decision.reason === 'deadline') {
        throw fail(
          'timeout',
          `gave up on ${req.model} after ${attempt} attempt${attempt === 1 ? '' : 's'}: the next retry (in ${decision.delayMs} ms) would start after the deadline (${Math.max(0, decision.remainingMs)} ms left); last error: ${failure.message}`,
          failure,
        );
      }
      throw fail(failure.code, failure.message, failure, { retryable: failure.retryable, retryAfterMs: failure.retryAfterMs });
    }
    record.delayMs = decision.delayMs;
    await sleep(decision.delayMs);
  }
}

export function splitModel(model: string): { providerId: string; modelName: string } {
  const slash = model.indexOf('/');
  if (slash <= 0 || slash === model.length - 1) {
    throw new KeelError('invalid_request', `model ids are provider/model, e.g. scripted/default (got "${model}")`);
  }
  return { providerId: model.slice(0, slash), modelName: model.slice(slash + 1) };
}

/** Anything a provider throws becomes a KeelError; our own timeout wins over whatever the abort caused. */
function normalize(err: unknown, signal: AbortSignal): KeelError {
  const reason: unknown = signal.reason;
  if (signal.aborted && reason instanceof ProviderError) {
    return err === reason ? reason : new ProviderError('timeout', reason.message, { cause: err });
  }
  // A foreign error is a bug in the adapter, not a transient fault: not retried.
  return KeelError.wrap(err, 'provider_error');
}

/** A provider's answer as the router's response: usage (counted when the provider reports none) and cost. */
export function toCompleteResponse(
  req: CompleteRequest, result: ProviderResult, attempts: Attempt[], scriptTurnsConsumed: number,
  deps: Pick<CompleteDeps, 'prices' | 'onUnpricedModel'> & { batch?: boolean },
): CompleteResponse {
  const toolCalls = result.toolCalls;
  const usage = result.usage
    ? { inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, ...(result.usage.cachedInputTokens ? { cachedInputTokens: result.usage.cachedInputTokens } : {}) }
    : { inputTokens: countPromptTokens(req.messages, req.tools), outputTokens: countOutputTokens(result.content, toolCalls) };
  const cost = quote(req.model, usage, deps.prices ?? DEFAULT_PRICES, { batch: deps.batch });
  if (!cost.priced) deps.onUnpricedModel?.(req.model);
  const response: CompleteResponse = {
    model: req.model,
    content: result.content,
    toolCalls,
    finishReason: toolCalls.length > 0 ? 'tool_calls' : result.finishReason === 'length' ? 'length' : 'stop',
    usage,
    costUsd: cost.costUsd,
    attempts,
    scriptTurnsConsumed,
  };
  if (result.confidence !== undefined) response.confidence = result.confidence;
  if (result.ttftMs !== undefined) response.ttftMs = result.ttftMs;
  return response;
}
