import { ERROR_SCHEMA, errorResponses as errors, jsonSchemaOf as schema, UUID_PATH_PARAM as idParam } from '@keel/service-kit';
import { FeedbackSchema, ROLES, SubmitTaskSchema, TASK_MODES, TASK_STATUSES } from '@keel/contracts';
import { CreateApiKeySchema, RotateApiKeySchema } from '../auth/api-keys.schemas';

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
          id: { type: 'string' }, tenant: { type: 'string' }, actorKeyId: { type: ['string', 'null'] }, actorName: { type: ['string', 'null'] },
          action: { type: 'string', examples: ['api_key.created', 'api_key.revoked', 'api_key.rotated', 'memory.deleted'] }, target: { type: ['string', 'null'] },
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
        summary: 'The tenant\'s audit log, newest first (admin)',
        parameters: [
          { name: 'action', in: 'query', required: false, schema: { type: 'string' }, description: 'only this action, e.g. api_key.revoked' },
          { name: 'since', in: 'query', required: false, schema: { type: 'string', format: 'date-time' }, description: 'only entries at or after this instant' },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
        ],
        responses: { '200': { description: 'entries', content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { $ref: '#/components/schemas/AuditEntry' } } } } } } }, ...errors(400, 401, 403) },
      },
    },
    '/healthz': { get: { summary: 'Alive', security: [], responses: { '200': { description: 'ok' } } } },
    '/readyz': { get: { summary: 'Ready (NATS, Postgres, migrations)', security: [], responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text exposition format' } } } },
  },
};
