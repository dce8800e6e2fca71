import { ERROR_SCHEMA, errorResponses as errors, jsonSchemaOf as schema, UUID_PATH_PARAM as idParam } from '@keel/service-kit';
import { FeedbackSchema, ROLES, SubmitTaskSchema, TASK_MODES, TASK_STATUSES } from '@keel/contracts';
import { CreateApiKeySchema, RotateApiKeySchema } from '../auth/api-keys.schemas';
import { ReplayRequestSchema } from '../replay/replay-plan';

/**
 * The orchestrator's REST API as OpenAPI 3.1, served at GET /openapi.json.
 * Request bodies come from the same zod schemas that validate them, so the
 * document cannot drift from what the server accepts.
 */

export const openApiDocument: Record<string, unknown> = {
  openapi: '3.1.0',
  info: { title: 'Keel orchestrator API', version: '1.0.0', description: 'Submit agent tasks, follow them, cancel them and give feedback; administer API keys and read the audit log.' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key' } },
    schemas: {
      Error: ERROR_SCHEMA,
      SubmitTask: schema(SubmitTaskSchema),
      Feedback: schema(FeedbackSchema),
      ReplayTask: schema(ReplayRequestSchema),
      CreateApiKey: schema(CreateApiKeySchema),
      RotateApiKey: schema(RotateApiKeySchema),
      CreatedApiKey: {
        type: 'object',
        description: 'The only response that carries the secret `key`: store it now, it cannot be shown again.',
        properties: {
          id: { type: 'string', format: 'uuid' }, key: { type: 'string' }, prefix: { type: 'string' }, tenant: { type: 'string' }, role: { enum: [...ROLES] }, name: { type: 'string' },
          expiresAt: { type: ['string', 'null'], format: 'date-time' },
        },
      },
      ApiKey: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' }, prefix: { type: 'string' }, tenant: { type: 'string' }, role: { enum: [...ROLES] }, name: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' }, expiresAt: { type: ['string', 'null'], format: 'date-time' }, revokedAt: { type: ['string', 'null'], format: 'date-time' },
        },
      },
      AuditEntry: {
        type: 'object',
        properties: {
          service: { enum: ['orchestrator', 'approval', 'tool-executor', 'router'], description: 'the service whose audit table holds the row' },
          id: { type: 'string', description: 'unique per service' }, tenant: { type: 'string' },
          actor: { type: ['string', 'null'], description: 'a key name, task:<id> (a tool call), deploy:<instance> (a policy change) or system' },
          actorKeyId: { type: ['string', 'null'] }, actorName: { type: ['string', 'null'] },
          action: { type: 'string', examples: ['api_key.created', 'api_key.revoked', 'api_key.rotated', 'memory.deleted', 'gate.approved', 'tool.called', 'tool.succeeded', 'budget.override_set', 'cache.invalidated', 'policy.changed'] }, target: { type: ['string', 'null'] },
          details: { type: 'object' }, traceId: { type: ['string', 'null'] }, at: { type: 'string', format: 'date-time' },
        },
      },
      Task: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' }, status: { enum: [...TASK_STATUSES] }, agent: { type: 'string' }, mode: { enum: [...TASK_MODES] }, input: { type: 'string' },
          output: { type: ['string', 'null'] }, error: { type: ['object', 'null'] }, steps: { type: 'integer' },
          usage: { type: 'object', properties: { inputTokens: { type: 'integer' }, outputTokens: { type: 'integer' }, costUsd: { type: 'number' } } },
          traceId: { type: ['string', 'null'] }, conversationId: { type: ['string', 'null'] }, metadata: { type: 'object' },
          createdAt: { type: 'string', format: 'date-time' }, updatedAt: { type: 'string', format: 'date-time' }, finishedAt: { type: ['string', 'null'], format: 'date-time' },
          experiment: { type: ['string', 'null'], description: 'the agent\'s A/B experiment the task ran in' }, variant: { type: ['string', 'null'], description: 'the variant it was assigned (sticky by userId)' },
        },
      },
      ExperimentResults: {
        type: 'object',
        description: 'Per-variant results of an A/B experiment (docs/experiments.md); each variant but the baseline (the first) is compared with it by a two-proportion z-test of success rate.',
        properties: {
          agent: { type: 'string' }, experiment: { type: 'string' }, declared: { type: 'boolean' }, since: { type: ['string', 'null'] }, baseline: { type: 'string' },
          alpha: { type: 'number' }, minTasksPerVariant: { type: 'integer' },
          variants: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' }, share: { type: ['number', 'null'] }, declared: { type: 'boolean' }, tasks: { type: 'integer' }, succeeded: { type: 'integer' },
                failed: { type: 'integer', description: 'failed or timed_out' }, cancelled: { type: 'integer' }, active: { type: 'integer' },
                successRate: { type: ['number', 'null'], description: 'succeeded / (succeeded + failed)' },
                latencyMs: { type: 'object', properties: { mean: { type: ['number', 'null'] }, p50: { type: ['number', 'null'] }, p95: { type: ['number', 'null'] } } },
                meanCostUsd: { type: ['number', 'null'] }, feedback: { type: 'object', properties: { count: { type: 'integer' }, meanScore: { type: ['number', 'null'] } } },
                comparison: {
                  type: ['object', 'null'],
                  properties: {
                    against: { type: 'string' }, status: { enum: ['ok', 'not_enough_data'] }, difference: { type: ['number', 'null'] }, z: { type: ['number', 'null'] },
                    pValue: { type: ['number', 'null'] }, pValueAdjusted: { type: ['number', 'null'], description: 'Bonferroni over the comparisons' }, significant: { type: 'boolean' }, reason: { type: 'string' },
                  },
                },
              },
            },
          },
        },
      },
      FeedbackItem: {
        type: 'object',
        properties: {
          id: { type: 'string' }, taskId: { type: 'string', format: 'uuid' }, score: { enum: [1, -1] }, comment: { type: ['string', 'null'] }, at: { type: 'string', format: 'date-time' },
          agent: { type: 'string' }, status: { enum: [...TASK_STATUSES] }, input: { type: 'string' }, output: { type: ['string', 'null'] }, userId: { type: ['string', 'null'] },
          conversationId: { type: ['string', 'null'] }, experiment: { type: ['string', 'null'] }, variant: { type: ['string', 'null'] },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/v1/tasks': {
      post: {
        summary: 'Submit a task',
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 200 }, description: 'the same key twice returns the same task' }],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/SubmitTask' } } } },
        responses: { '202': { description: 'accepted', content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' } } } } } }, ...errors(400, 401, 403, 413, 415) },
      },
    },
    '/v1/tasks/{id}': { get: { summary: 'A task with its status, output, usage and trace id', parameters: [idParam], responses: { '200': { description: 'the task', content: { 'application/json': { schema: { $ref: '#/components/schemas/Task' } } } }, ...errors(401, 403, 404) } } },
    '/v1/tasks/{id}/events': { get: { summary: 'Server-Sent Events of the task (id = sequence; ends after the terminal event; honours Last-Event-ID)', parameters: [idParam], responses: { '200': { description: 'text/event-stream' }, ...errors(401, 403, 404) } } },
    '/v1/tasks/{id}/cancel': { post: { summary: 'Cancel at the next safe point', parameters: [idParam], responses: { '202': { description: 'cancelled (or the terminal status it already had)' }, ...errors(401, 403, 404) } } },
    '/v1/tasks/{id}/feedback': { post: { summary: 'User feedback', parameters: [idParam], requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Feedback' } } } }, responses: { '204': { description: 'recorded' }, ...errors(400, 401, 403, 404) } } },
    '/v1/tasks/{id}/replay': {
      post: {
        summary: 'Re-run the task from the end of step fromStep (0..its steps) as a new task, with another model, system prompt, agent or metadata; tool calls at recorded positions return the recorded results unless liveTools (docs/replay.md)',
        parameters: [idParam],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/ReplayTask' } } } },
        responses: {
          '202': { description: 'the replay task, running from step fromStep + 1', content: { 'application/json': { schema: { type: 'object', properties: { id: { type: 'string', format: 'uuid' }, status: { type: 'string' }, replayOf: { type: 'string', format: 'uuid' }, fromStep: { type: 'integer' } } } } } },
          ...errors(400, 401, 403, 404, 409, 415),
        },
      },
    },
    '/v1/tasks/{id}/compare': {
      get: {
        summary: 'A replay beside its original, step by step: model, tool calls (recorded or run), results and answers; steps 1..fromStep are shared',
        parameters: [idParam],
        responses: { '200': { description: '{fromStep, overrides, original, replay, steps: [{step, shared, original, replay}]}' }, ...errors(400, 401, 403, 404) },
      },
    },
    '/v1/admin/api-keys': {
      post: {
        summary: 'Create an API key of the caller\'s tenant (admin); the key is shown only in this response',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateApiKey' } } } },
        responses: { '201': { description: 'created', content: { 'application/json': { schema: { $ref: '#/components/schemas/CreatedApiKey' } } } }, ...errors(400, 401, 403, 415) },
      },
      get: {
        summary: 'The tenant\'s API keys, newest first, without secrets (admin)',
        responses: { '200': { description: 'keys', content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { $ref: '#/components/schemas/ApiKey' } } } } } } }, ...errors(401, 403) },
      },
    },
    '/v1/admin/api-keys/{id}': {
      delete: { summary: 'Revoke a key (admin; idempotent; at once on this replica, within 10 s elsewhere)', parameters: [idParam], responses: { '204': { description: 'revoked (or already was)' }, ...errors(401, 403, 404) } },
    },
    '/v1/admin/api-keys/{id}/rotate': {
      post: {
        summary: 'A new key with the same tenant, role and name; the old key stops after graceSeconds (default 0: at once)',
        parameters: [idParam],
        requestBody: { required: false, content: { 'application/json': { schema: { $ref: '#/components/schemas/RotateApiKey' } } } },
        responses: { '201': { description: 'the new key', content: { 'application/json': { schema: { $ref: '#/components/schemas/CreatedApiKey' } } } }, ...errors(400, 401, 403, 404, 409, 415) },
      },
    },
    '/v1/admin/audit': {
      get: {
        summary: 'The tenant\'s audit log from every service, newest first (admin); a service that does not answer within 2 s is listed in unavailable',
        parameters: [
          { name: 'action', in: 'query', required: false, schema: { type: 'string' }, description: 'only this action, e.g. api_key.revoked' },
          { name: 'since', in: 'query', required: false, schema: { type: 'string', format: 'date-time' }, description: 'only entries at or after this instant' },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
        ],
        responses: {
          '200': {
            description: 'entries',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    items: { type: 'array', items: { $ref: '#/components/schemas/AuditEntry' } },
                    partial: { type: 'boolean', description: 'true when a service did not answer in time (its rows are missing)' },
                    unavailable: { type: 'array', items: { type: 'string' }, description: 'the services that did not answer' },
                  },
                },
              },
            },
          },
          ...errors(400, 401, 403),
        },
      },
    },
    '/v1/experiments/{agent}': {
      get: {
        summary: 'Per-variant results of the agent\'s A/B experiment with significance tests (viewer; own tenant)',
        parameters: [
          { name: 'agent', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'experiment', in: 'query', required: false, schema: { type: 'string' }, description: 'another experiment of the agent (default: the one its file declares)' },
          { name: 'since', in: 'query', required: false, schema: { type: 'string', format: 'date-time' }, description: 'only tasks created at or after this instant' },
          { name: 'alpha', in: 'query', required: false, schema: { type: 'number', default: 0.05 }, description: 'significance level for `significant`' },
        ],
        responses: { '200': { description: 'results', content: { 'application/json': { schema: { $ref: '#/components/schemas/ExperimentResults' } } } }, ...errors(400, 401, 403, 404) },
      },
    },
    '/v1/feedback': {
      get: {
        summary: 'The tenant\'s feedback with the rated tasks\' input and output, newest first (viewer)',
        parameters: [
          { name: 'score', in: 'query', required: false, schema: { enum: ['1', '-1'] } },
          { name: 'since', in: 'query', required: false, schema: { type: 'string', format: 'date-time' } },
          { name: 'agent', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        ],
        responses: { '200': { description: 'feedback', content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { $ref: '#/components/schemas/FeedbackItem' } } } } } } }, ...errors(400, 401, 403) },
      },
    },
    '/v1/memory/users/{userId}': {
      get: { summary: 'Everything remembered about one user of the caller\'s tenant: conversations with their turns and summary, facts, task count (admin)', parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } }], responses: { '200': { description: 'the user\'s memory' }, ...errors(400, 401, 403) } },
      delete: { summary: 'Right to be forgotten: the answers the router cached for the user, then the user\'s memory, tasks, events, feedback and unshared messages, in one transaction (admin)', parameters: [{ name: 'userId', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } }], responses: { '200': { description: '{userId, deleted: {memoryItems, summaries, tasks, taskMessages, taskEvents, feedback, messages, cacheEntries}}' }, ...errors(400, 401, 403, 409, 503) } },
    },
    '/healthz': { get: { summary: 'Alive', security: [], responses: { '200': { description: 'ok' } } } },
    '/readyz': { get: { summary: 'Ready (NATS, Postgres, migrations)', security: [], responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text exposition format' } } } },
  },
};
