import { z } from 'zod';
import { envBool, envInt, portSchema } from '@keel/config';
import { ERROR_SCHEMA, errorResponses, NatsPrincipalResolver, PrincipalResolver } from '@keel/service-kit';
import type { ServiceDefinition } from '@keel/service-kit';
import { ROUTER_MIGRATIONS } from './migrations';
import { cacheEnv } from './cache/openai-embedding';
import { RouterModule } from './router.module';

export const routerEnv = cacheEnv.extend({
  PORT: portSchema(8082),
  // Providers (src/providers/provider.registry.ts validates them): the built-in ones and KEEL_PROVIDERS.
  OPENAI_BASE_URL: z.string().optional(),
  OPENAI_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: z.string().optional(),
  ANTHROPIC_API_KEY: z.string().optional(),
  /** JSON list of extra OpenAI-compatible or Anthropic providers: [{id, kind, baseUrl, apiKeyEnv?, stream?, batch?}]. */
  KEEL_PROVIDERS: z.string().optional(),
  /** Price table (JSON); the bundled apps/router/prices.json by default. */
  KEEL_PRICES_FILE: z.string().optional(),
  /** Budgets per tenant, user and agent (YAML or JSON); none by default. */
  KEEL_BUDGETS_FILE: z.string().optional(),
  /** Output tokens the pre-request budget estimate assumes for a call (its upper bound). */
  KEEL_BUDGET_MAX_OUTPUT_TOKENS: envInt(4096, 1, 1_000_000),
  /** Prompt and answer text on model spans, redacted by the guardrail first; off by default. */
  KEEL_CAPTURE_CONTENT: envBool(false),
  /** Anomaly rule: a user or task at ≥ this multiple of its baseline token rate is paused… */
  KEEL_ANOMALY_FACTOR: envInt(10, 2, 1000),
  /** …provided it also spent at least this many tokens in the last minute. */
  KEEL_ANOMALY_MIN_TOKENS_PER_MIN: envInt(50_000, 1, 1_000_000_000),
  KEEL_ANOMALY_COOLDOWN_MS: envInt(600_000, 1000, 86_400_000),
  /** Where 80 % budget alerts and anomaly alerts are POSTed (Slack-compatible body). */
  KEEL_BUDGET_WEBHOOK_URL: z.string().url().optional(),
  /** Retries after the first attempt (design.md: 3, at 1 s / 2 s / 4 s + jitter). */
  KEEL_ROUTER_RETRIES: envInt(3, 0, 10),
  KEEL_ROUTER_BASE_DELAY_MS: envInt(1000, 1, 60_000),
  /** Upper bound of one attempt; the step deadline may cut it shorter. */
  KEEL_ROUTER_ATTEMPT_TIMEOUT_MS: envInt(60_000, 100, 600_000),
  /** Consecutive failures (after retries) that open a deployment's circuit breaker. */
  KEEL_ROUTER_BREAKER_FAILURES: envInt(5, 1, 1000),
  /** How long an open breaker skips its deployment before one probe. */
  KEEL_ROUTER_BREAKER_COOLDOWN_MS: envInt(30_000, 100, 3_600_000),
  /** Batch path: how often queued batch-mode turns are sent to the provider as one batch… */
  KEEL_BATCH_FLUSH_MS: envInt(60_000, 100, 3_600_000),
  /** …how often open batches are polled… */
  KEEL_BATCH_POLL_MS: envInt(60_000, 100, 3_600_000),
  /** …and at most this many turns per batch (OpenAI allows 50,000). */
  KEEL_BATCH_MAX_ITEMS: envInt(1000, 1, 50_000),
});

export const routerService: ServiceDefinition<typeof routerEnv> = {
  name: 'router',
  envSchema: routerEnv,
  migrations: ROUTER_MIGRATIONS,
  imports: () => [RouterModule],
  providers: [NatsPrincipalResolver, { provide: PrincipalResolver, useExisting: NatsPrincipalResolver }],
  openapi: {
    openapi: '3.1.0',
    info: { title: 'Keel router admin API', version: '1.0.0', description: 'Model calls go over NATS (keel.v1.router.complete); HTTP is for operators.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: { Error: ERROR_SCHEMA } },
    security: [{ bearer: [] }],
    paths: {
      '/v1/admin/cache/invalidate': {
        post: {
          summary: "Drop the caller's tenant's cached answers (all, or one agent's); role admin",
          requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { agent: { type: 'string' } }, additionalProperties: false } } } },
          responses: { '200': { description: '{deleted}' }, ...errorResponses(400, 401, 403) },
        },
      },
      '/v1/admin/budgets/overrides': {
        put: {
          summary: "Set (or replace) a temporary limit for the caller's tenant's or one user's day or month budget; role admin",
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object', required: ['scope', 'period', 'limitUsd', 'expiresAt', 'reason'], additionalProperties: false,
                  properties: {
                    scope: { enum: ['tenant', 'user'] }, userId: { type: 'string', description: 'with scope user only' }, period: { enum: ['day', 'month'] },
                    limitUsd: { type: 'number', minimum: 0 }, expiresAt: { type: 'string', format: 'date-time', description: 'in the future, at most 90 days away' },
                    reason: { type: 'string', minLength: 1, maxLength: 500 },
                  },
                },
              },
            },
          },
          responses: { '200': { description: 'the stored override {id, tenant, scope, userId, period, limitUsd, expiresAt, reason, createdBy, createdAt}' }, ...errorResponses(400, 401, 403) },
        },
        get: {
          summary: "The caller's tenant's active budget overrides; role admin",
          responses: { '200': { description: '{items}' }, ...errorResponses(401, 403) },
        },
      },
      '/v1/admin/budgets/overrides/{id}': {
        delete: {
          summary: "Remove one of the caller's tenant's budget overrides (the configured limit applies again); role admin",
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: { '204': { description: 'removed' }, ...errorResponses(401, 403, 404) },
        },
      },
    },
  },
};
