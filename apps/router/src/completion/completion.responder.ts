import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { CompleteRequestSchema, KeelError, QueueGroups, Subjects } from '@keel/contracts';
import type { CompleteRequest, CompleteResponse } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { ENV } from '@keel/service-kit';
import { counter, histogram, SpanKind, withSpan } from '@keel/telemetry';
import { ScriptedProvider, SCRIPTED_PROVIDER_ID } from '../providers/scripted.provider';
import type { ModelProvider } from '../providers/provider';
import { RetryPolicy } from '../retries/retry-policy';
import { complete } from './complete';

const tokens = counter('keel_model_tokens_total', 'Tokens by model and direction', ['model', 'direction']);
const cost = counter('keel_model_cost_usd_total', 'Model cost in USD by model and tenant', ['model', 'tenant']);
const calls = counter('keel_model_calls_total', 'Model calls by model and outcome', ['model', 'outcome']);
const retries = counter('keel_model_retries_total', 'Model call attempts that failed and were retried', ['model']);
const latency = histogram('keel_model_call_seconds', 'Model call latency including retries', ['model']);
const unpriced = counter('keel_model_unpriced_total', 'Calls to models with no price in the price table', ['model']);

export interface RouterEnv {
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

  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(ENV) private readonly env: RouterEnv) {
    this.providers = new Map<string, ModelProvider>([[SCRIPTED_PROVIDER_ID, new ScriptedProvider()]]);
    this.policy = new RetryPolicy({ retries: env.KEEL_ROUTER_RETRIES, baseDelayMs: env.KEEL_ROUTER_BASE_DELAY_MS });
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
        const res = await complete(req, {
          providers: this.providers, policy: this.policy, attemptTimeoutMs: this.env.KEEL_ROUTER_ATTEMPT_TIMEOUT_MS,
          onUnpricedModel: (m) => unpriced.inc({ model: m }),
        });
        span.setAttributes({
          'gen_ai.response.model': res.model, 'gen_ai.usage.input_tokens': res.usage.inputTokens, 'gen_ai.usage.output_tokens': res.usage.outputTokens,
          'gen_ai.response.finish_reasons': [res.finishReason], 'keel.cost_usd': res.costUsd, 'keel.attempts': res.attempts.length,
        });
        tokens.inc({ model: req.model, direction: 'input' }, res.usage.inputTokens);
        tokens.inc({ model: req.model, direction: 'output' }, res.usage.outputTokens);
        cost.inc({ model: req.model, tenant: req.tenant }, res.costUsd);
        retries.inc({ model: req.model }, res.attempts.length - 1);
        calls.inc({ model: req.model, outcome: 'ok' });
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
