import { ERROR_SCHEMA, errorResponses as errors, jsonSchemaOf as schema, UUID_PATH_PARAM as idParam } from '@keel/service-kit';
import { FeedbackSchema, SubmitTaskSchema, TASK_MODES, TASK_STATUSES } from '@keel/contracts';

/**
 * The orchestrator's REST API as OpenAPI 3.1, served at GET /openapi.json.
 * Request bodies come from the same zod schemas that validate them, so the
 * document cannot drift from what the server accepts.
 */

export const openApiDocument: Record<string, unknown> = {
  openapi: '3.1.0',
  info: { title: 'Keel orchestrator API', version: '1.0.0', description: 'Submit agent tasks, follow them, cancel them and give feedback.' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key' } },
    schemas: {
      Error: ERROR_SCHEMA,
      SubmitTask: schema(SubmitTaskSchema),
      Feedback: schema(FeedbackSchema),
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
    '/healthz': { get: { summary: 'Alive', security: [], responses: { '200': { description: 'ok' } } } },
    '/readyz': { get: { summary: 'Ready (NATS, Postgres, migrations)', security: [], responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text exposition format' } } } },
  },
};
