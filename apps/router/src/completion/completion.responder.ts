import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { CompleteRequestSchema, KeelError, QueueGroups, Subjects, withVariant } from '@keel/contracts';
import type { Agent, CompleteRequest, CompleteResponse } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { AGENTS, ENV } from '@keel/service-kit';
import { counter, gauge, histogram, SpanKind, withSpan } from '@keel/telemetry';
import { buildProviders } from '../providers/provider.registry';
import type { ModelProvider } from '../providers/provider';
import { RetryPolicy } from '../retries/retry-policy';
import { complete } from './complete';
import { captureContent } from './content-capture';
import { CircuitBreakers } from '@keel/resilience';
import type { BreakerState } from '@keel/resilience';
import { routedComplete } from '../routing/routed-complete';
import { candidateModels, planRoute } from '../routing/route-plan';
import { countPromptTokens } from '@keel/text';
import { BudgetAccountant } from '../budgets/budget-accountant.service';
import { AnomalyGuard } from '../anomaly/anomaly.guard';
import { RESPONSE_CACHE } from '../cache/response-cache.provider';
import { requestForCache } from '../cache/cache-key';
import type { ResponseCache } from '../cache/response-cache';

const tokens = counter('keel_model_tokens_total', 'Tokens by model, direction and task type (metadata.taskType)', ['model', 'direction', 'task_type']);
const costPerRequest = histogram('keel_model_request_cost_usd', 'Cost of one model call in USD', ['model'], [0.00001, 0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 5]);
const cost = counter('keel_model_cost_usd_total', 'Model cost in USD by model and tenant', ['model', 'tenant']);
const calls = counter('keel_model_calls_total', 'Model calls by model and outcome', ['model', 'outcome']);
const retries = counter('keel_model_retries_total', 'Model call attempts that failed and were retried', ['model']);
const latency = histogram('keel_model_call_seconds', 'Model call latency including retries', ['model']);
const fallbacksTotal = counter('keel_model_fallbacks_total', 'Model calls that moved to a fallback, by the model that failed', ['model', 'reason']);
const breakerState = gauge('keel_router_breaker_state', 'Circuit breaker per deployment: 0 closed, 1 half-open, 2 open', ['deployment']);
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };
const ttft = histogram('keel_model_ttft_seconds', 'Time to first token of streamed model answers', ['model']);
const cacheLookups = counter('keel_cache_lookups_total', 'Response cache lookups by result (exact, semantic, miss)', ['result']);
const unpriced = counter('keel_model_unpriced_total', 'Calls to models with no price in the price table', ['model']);

export interface RouterEnv {
  KEEL_CAPTURE_CONTENT: boolean;
  KEEL_ROUTER_BREAKER_FAILURES: number;
  KEEL_ROUTER_BREAKER_COOLDOWN_MS: number;
  KEEL_ROUTER_RETRIES: number;
  KEEL_ROUTER_BASE_DELAY_MS: number;
  KEEL_ROUTER_ATTEMPT_TIMEOUT_MS: number;
}

/**
 * `keel.v1.router.complete`: one model turn with the router's retries. The
 * router has already retried when it answers with an error, so that error is
 * final for the step (non-retryable); only a lost reply (router down) makes
 * the orchestrator redeliver the step.
 */
@Injectable()
export class CompletionResponder implements OnApplicationBootstrap {
  private readonly providers: ReadonlyMap<string, ModelProvider>;
  private readonly policy: RetryPolicy;
  private readonly breakers: CircuitBreakers;

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(ENV) private readonly env: RouterEnv,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Inject(BudgetAccountant) private readonly budgets: BudgetAccountant,
    @Inject(RESPONSE_CACHE) private readonly cache: ResponseCache,
    @Inject(AnomalyGuard) private readonly anomalies: AnomalyGuard,
  ) {
    // Declared providers name their key variables (apiKeyEnv), so the whole environment is passed.
    this.providers = buildProviders({ ...process.env, ...(env as unknown as Record<string, string | undefined>) });
    this.policy = new RetryPolicy({ retries: env.KEEL_ROUTER_RETRIES, baseDelayMs: env.KEEL_ROUTER_BASE_DELAY_MS });
    this.breakers = new CircuitBreakers({
      failureThreshold: env.KEEL_ROUTER_BREAKER_FAILURES, cooldownMs: env.KEEL_ROUTER_BREAKER_COOLDOWN_MS,
      onChange: (deployment, state) => breakerState.set({ deployment }, BREAKER_VALUE[state]),
    });
  }

  onApplicationBootstrap(): void {
    this.bus.serve({ subject: Subjects.routerComplete, queue: QueueGroups.router, schema: CompleteRequestSchema, handler: (req) => this.complete(req) });
  }

  async complete(req: CompleteRequest): Promise<CompleteResponse> {
    const started = performance.now();
    return withSpan(`chat ${req.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat', 'gen_ai.request.model': req.model, 'gen_ai.provider.name': req.model.split('/')[0],
        'keel.task.id': req.taskId, 'keel.tenant': req.tenant, 'keel.step': req.step, 'gen_ai.agent.name': req.agent,
      },
    }, async (span) => {
      try {
        const base = this.agents.get(req.agent);
        const agent = base && withVariant(base, req.variant); // an A/B variant's routing (docs/experiments.md)
        this.anomalies.check(req);
        // The cache before the budget: a cached answer spends nothing.
        const scope = { tenant: req.tenant, agent: req.agent, userId: req.userId, taskId: req.taskId };
        const creq = agent?.cache ? requestForCache(req) : undefined;
        const hit = creq ? await this.cache.lookup(scope, creq) : null;
        if (hit) {
          cacheLookups.inc({ result: hit.kind });
          span.setAttributes({ 'keel.cache.hit': hit.kind, 'keel.cache.similarity': hit.similarity });
          // The stored call's budget effects and route belong to that call, not to this one.
          const { budget: _budget, route: _route, ...stored } = hit.response;
          // Nothing was processed by a provider for this answer: zero usage; what the hit avoided is `saved`.
          const saved = { inputTokens: stored.usage.inputTokens, outputTokens: stored.usage.outputTokens, costUsd: stored.costUsd };
          const cached: CompleteResponse = {
            ...stored, usage: { inputTokens: 0, outputTokens: 0 }, costUsd: 0, attempts: [], cache: { kind: hit.kind, similarity: hit.similarity, ageMs: hit.ageMs, saved },
          };
          await this.budgets.settle(req, { model: cached.model }, cached, true);
          return cached;
        }
        if (creq) cacheLookups.inc({ result: 'miss' });
        // Budgets first: nothing is spent on a call the tenant may not pay for.
        const route = () => {
          const input = { model: req.model, messages: req.messages, inputTokens: countPromptTokens(req.messages, req.tools), taskType: req.taskType };
          return { models: candidateModels(agent, input), calls: planRoute(agent, input).chain.length };
        };
        const admission = await this.budgets.admit(req, agent, route);
        let res: CompleteResponse;
        try {
          // A budget downgrade pins the cheaper model: routing could otherwise climb back up.
          const capped = admission.maxOutputTokens !== undefined ? { maxOutputTokens: admission.maxOutputTokens } : {};
          res = await routedComplete({ ...req, ...capped, model: admission.model }, admission.downgradedFrom ? undefined : agent, {
            complete: (r, { wantConfidence }) => complete(r, {
              wantConfidence,
              providers: this.providers, policy: this.policy, attemptTimeoutMs: this.env.KEEL_ROUTER_ATTEMPT_TIMEOUT_MS,
              prices: this.budgets.prices, onUnpricedModel: (m) => unpriced.inc({ model: m }),
            }),
            breakers: this.breakers,
            inputTokens: (r) => countPromptTokens(r.messages, r.tools),
            onFallback: (from, _to, reason) => fallbacksTotal.inc({ model: from, reason: reason === 'circuit breaker open' ? 'breaker_open' : 'failed' }),
          });
        } catch (err) {
          await this.budgets.release(admission);
          throw err;
        }
        this.anomalies.record(req, res.usage.inputTokens + res.usage.outputTokens);
        const budget = await this.budgets.settle(req, admission, res);
        if (budget) res = { ...res, budget };
        if (creq) void this.cache.store(scope, creq, res).catch(() => undefined);
        span.setAttributes({
          'gen_ai.response.model': res.model, 'gen_ai.usage.input_tokens': res.usage.inputTokens, 'gen_ai.usage.output_tokens': res.usage.outputTokens,
          'gen_ai.response.finish_reasons': [res.finishReason], 'keel.cost_usd': res.costUsd, 'keel.attempts': res.attempts.length,
          'keel.route.reason': res.route?.reason ?? '', 'keel.route.fallbacks': res.route?.fallbacks.length ?? 0,
        });
        if (this.env.KEEL_CAPTURE_CONTENT) await captureContent(this.bus, span, req, res);
        const taskType = req.taskType ?? 'none';
        tokens.inc({ model: res.model, direction: 'input', task_type: taskType }, res.usage.inputTokens);
        tokens.inc({ model: res.model, direction: 'output', task_type: taskType }, res.usage.outputTokens);
        costPerRequest.observe({ model: res.model }, res.costUsd);
        cost.inc({ model: res.model, tenant: req.tenant }, res.costUsd);
        retries.inc({ model: res.model }, res.attempts.length - 1);
        calls.inc({ model: res.model, outcome: 'ok' });
        if (res.ttftMs !== undefined) {
          ttft.observe({ model: res.model }, res.ttftMs / 1000);
          span.setAttribute('keel.ttft_ms', res.ttftMs);
        }
        return res;
      } catch (err) {
        const e = KeelError.wrap(err);
        calls.inc({ model: req.model, outcome: e.code });
        throw new KeelError(e.code, e.message, { details: e.details, retryable: false, cause: err });
      } finally {
        latency.observe({ model: req.model }, (performance.now() - started) / 1000);
      }
    });
  }
}
