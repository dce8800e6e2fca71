import { ERROR_SCHEMA, errorResponses as errors, jsonSchemaOf as schema, UUID_PATH_PARAM as idParam } from '@keel/service-kit';
import { DecisionBodySchema, RiskTierSchema } from '@keel/contracts';
import { GATE_STATUSES, LIST_FILTERS } from '../gates/gates.repository';

/**
 * The approval service's REST API as OpenAPI 3.1, served at GET /openapi.json.
 * The decision body comes from the zod schema that validates it, so the
 * document cannot drift from what the server accepts.
 */
const approval = { description: 'the approval', content: { 'application/json': { schema: { $ref: '#/components/schemas/Approval' } } } };

export const openApiDocument: Record<string, unknown> = {
  openapi: '3.1.0',
  info: {
    title: 'Keel approval API',
    version: '1.0.0',
    description: 'Human decisions on risky tool calls. An approval gate holds a call until a person approves or rejects it; a review record flags a call that already ran.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key' } },
    schemas: {
      Error: ERROR_SCHEMA,
      Decision: schema(DecisionBodySchema),
      Approval: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' },
          taskId: { type: 'string' }, step: { type: 'integer' }, index: { type: 'integer', description: 'position of the call in the model turn' },
          agent: { type: 'string' }, tool: { type: 'string' }, arguments: { type: 'object' },
          argsHash: { type: 'string', description: 'sha256 of the canonical JSON of the arguments; send it as If-Match to bind a decision to them' },
          tier: schema(RiskTierSchema), kind: { enum: ['approve', 'review'] }, reason: { type: 'string' },
          status: { enum: [...GATE_STATUSES] }, decidedBy: { type: ['string', 'null'] }, comment: { type: ['string', 'null'] },
          createdAt: { type: 'string', format: 'date-time' }, decidedAt: { type: ['string', 'null'], format: 'date-time' },
          expiresAt: { type: ['string', 'null'], format: 'date-time', description: 'when a pending approval gate times out (escalated or expired per the agent\'s approvals settings); null: no deadline' },
          escalationLevel: { type: 'integer', description: '0: the first approvers; n: the n-th group of the agent\'s escalation chain' },
          assignedGroup: { type: ['string', 'null'], description: 'the escalation group the gate is assigned to (informational)' },
        },
      },
    },
  },
  security: [{ bearer: [] }],
  paths: {
    '/v1/approvals': {
      get: {
        summary: 'Approvals of the caller\'s tenant, newest first (at most 100); roles approver, viewer',
        parameters: [{ name: 'status', in: 'query', required: false, schema: { enum: [...LIST_FILTERS] }, description: 'review_pending: the review queue (review records nobody has looked at yet)' }],
        responses: {
          '200': { description: 'the approvals', content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Approval' } } } } } } },
          ...errors(400, 401, 403),
        },
      },
    },
    '/v1/approvals/stream': {
      get: {
        summary: 'Server-Sent Events for the console: the pending count and a change mark, pushed when they change (read with fetch and the Bearer header); roles approver, viewer',
        responses: { '200': { description: 'text/event-stream: `event: pending` with {pending, version} at once and on every change; `event: unauthorized` when the key is revoked', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors(401, 403) },
      },
    },
    '/v1/approvals/{id}/timeline': {
      get: {
        summary: "The gated task's context for the console: the task and its newest events (from the orchestrator over keel.v1.tasks.timeline), plus traceUrl when KEEL_JAEGER_URL is set; roles approver, viewer",
        parameters: [idParam],
        responses: { '200': { description: '{task, events, gate, traceUrl} (traceUrl null without KEEL_JAEGER_URL)' }, ...errors(401, 403, 404) },
      },
    },
    '/v1/approvals/{id}': { get: { summary: 'One approval; roles approver, viewer', parameters: [idParam], responses: { '200': approval, ...errors(401, 403, 404) } } },
    '/v1/approvals/{id}/decision': {
      post: {
        summary: 'Decide a pending approval (role approver). On a review record, approve marks it reviewed (ok) and reject marks it wrong (an objection on record).',
        parameters: [idParam, { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'the argsHash the decider saw; 409 when the arguments changed since' }],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Decision' } } } },
        responses: { '200': approval, ...errors(400, 401, 403, 404, 409, 415) },
      },
    },
    '/': { get: { summary: 'The approval console (HTML)', security: [], responses: { '200': { description: 'text/html' } } } },
    '/healthz': { get: { summary: 'Alive', security: [], responses: { '200': { description: 'ok' } } } },
    '/readyz': { get: { summary: 'Ready (NATS, Postgres, migrations)', security: [], responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text exposition format' } } } },
  },
};
