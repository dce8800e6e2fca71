import { z } from 'zod';

export const ToolCallSchema = z.object({
  id: z.string().optional(),
  name: z.string().min(1).max(128),
  arguments: z.record(z.string(), z.unknown()).default({}),
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

export const ChatMessageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: z.string() }),
  z.object({ role: z.literal('user'), content: z.string() }),
  z.object({ role: z.literal('assistant'), content: z.string().nullable(), toolCalls: z.array(ToolCallSchema).optional() }),
  z.object({ role: z.literal('tool'), toolCallId: z.string(), name: z.string(), content: z.string() }),
]);
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const UsageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  /** Of inputTokens, those served from the provider's prompt cache. */
  cachedInputTokens: z.number().int().nonnegative().optional(),
});

/** One turn of the built-in `scripted` model (design.md, "scripted turns"). */
export const ScriptTurnSchema = z.object({
  content: z.string().optional(),
  toolCalls: z.array(ToolCallSchema).optional(),
  fault: z.union([
    z.object({ status: z.number().int().min(400).max(599), retryAfterMs: z.number().int().nonnegative().optional() }).strict(),
    z.object({ timeout: z.literal(true) }).strict(),
    z.object({ malformed: z.literal(true) }).strict(),
  ]).optional(),
  /** `echo`: answer with the prompt it was given; `summary`: a deterministic extractive summary of the last user message (memory summaries on the scripted model). */
  reply: z.enum(['echo', 'summary']).optional(),
  latencyMs: z.number().int().nonnegative().max(600_000).optional(),
  usage: UsageSchema.optional(),
  confidence: z.number().min(0).max(1).optional(),
}).strict().refine((t) => [t.content !== undefined, t.toolCalls !== undefined, t.fault !== undefined, t.reply !== undefined].filter(Boolean).length >= 1, {
  message: 'a turn needs one of content, toolCalls, fault or reply',
});
export type ScriptTurn = z.infer<typeof ScriptTurnSchema>;
export const ScriptSchema = z.array(ScriptTurnSchema).min(1).max(10_000);

export const ToolSpecSchema = z.object({
  name: z.string(),
  description: z.string(),
  parameters: z.record(z.string(), z.unknown()),
  /** How a repeated call behaves; the orchestrator records the model turn before running anything not `pure`. */
  idempotency: z.enum(['pure', 'idempotent_by_key', 'not_idempotent']).optional(),
  /** What the tool can do to the world (the strongest any call can need), for the intent policy. */
  permission: z.enum(['read', 'write', 'destructive']).optional(),
  /** The tool's own risk tier when the agent file sets none (`@keel/policy` decide). */
  risk: z.enum(['auto', 'review', 'approve']).optional(),
});
export type ToolSpec = z.infer<typeof ToolSpecSchema>;

/** Request on `keel.v1.router.complete`. */
export const CompleteRequestSchema = z.object({
  taskId: z.string(),
  tenant: z.string(),
  agent: z.string(),
  step: z.number().int().positive(),
  model: z.string().regex(/^[a-z0-9_-]+\/.+$/, 'model ids are provider/model, e.g. scripted/default'),
  messages: z.array(ChatMessageSchema).min(1),
  tools: z.array(ToolSpecSchema).default([]),
  /** For `scripted`: the script and how many of its turns earlier calls consumed. */
  script: ScriptSchema.optional(),
  scriptCursor: z.number().int().nonnegative().default(0),
  /** Cap on output tokens for this call (set by the router itself when a budget applies). */
  maxOutputTokens: z.number().int().positive().optional(),
  /** The task's user, for per-user budgets and cache scoping. */
  userId: z.string().max(200).optional(),
  /** The task's A/B variant (agent `experiment`): the router routes with the variant's `routing` (withVariant). */
  variant: z.string().max(63).optional(),
  /** The task's `metadata.taskType`, for routing rules. */
  taskType: z.string().max(100).optional(),
  /** Absolute deadline (epoch ms) for all attempts together. */
  deadline: z.number().int().positive(),
}).strict();
export type CompleteRequest = z.infer<typeof CompleteRequestSchema>;

export const AttemptSchema = z.object({
  attempt: z.number().int().positive(),
  error: z.object({ code: z.string(), message: z.string(), status: z.number().optional() }).optional(),
  delayMs: z.number().nonnegative().optional(),
  latencyMs: z.number().nonnegative(),
});
export type Attempt = z.infer<typeof AttemptSchema>;

export const CompleteResponseSchema = z.object({
  model: z.string(),
  content: z.string().nullable(),
  toolCalls: z.array(ToolCallSchema),
  finishReason: z.enum(['stop', 'tool_calls', 'length']),
  usage: UsageSchema,
  costUsd: z.number().nonnegative(),
  confidence: z.number().min(0).max(1).optional(),
  /** Time to first token of the answering attempt, when the provider streamed. */
  ttftMs: z.number().nonnegative().optional(),
  attempts: z.array(AttemptSchema),
  scriptTurnsConsumed: z.number().int().nonnegative(),
  /**
   * Set when the answer came from the response cache: no provider processed a token for it (`usage` is zero and
   * `costUsd` 0); `saved` is what the stored call used and cost, i.e. what the hit avoided.
   */
  cache: z.object({
    kind: z.enum(['exact', 'semantic']), similarity: z.number(), ageMs: z.number().nonnegative(),
    saved: z.object({ inputTokens: z.number().int().nonnegative(), outputTokens: z.number().int().nonnegative(), costUsd: z.number().nonnegative() }).optional(),
  }).optional(),
  /** Budget effects of this call: a downgrade, and thresholds it crossed (each alert fires once per scope and period). */
  budget: z.object({
    downgradedFrom: z.string().optional(),
    alerts: z.array(z.object({ scope: z.string(), period: z.string(), threshold: z.number(), limitUsd: z.number(), spentUsd: z.number() })),
  }).optional(),
  /** How the router got here: the model asked for, the one that answered, and why. */
  route: z.object({
    requested: z.string(),
    used: z.string(),
    reason: z.string(),
    fallbacks: z.array(z.object({ model: z.string(), error: z.string() })),
    /** Cascade answers that were passed over; their tokens and cost are included in the response's usage and costUsd. */
    escalations: z.array(z.object({ model: z.string(), why: z.string(), usage: UsageSchema.optional(), costUsd: z.number().nonnegative().optional() })),
  }).optional(),
});
export type CompleteResponse = z.infer<typeof CompleteResponseSchema>;

/**
 * Reply on `keel.v1.router.batch.submit` (same request as `router.complete`).
 * Idempotent per task step: the first call queues the turn for the provider's
 * batch API (`pending`); after the router announces the result on
 * `keel.v1.router.batch.completed`, the same call answers `completed` or `failed`.
 */
export const BatchSubmitResponseSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('pending'), itemId: z.string(), queuedAt: z.string(), batchId: z.string().optional() }),
  z.object({ status: z.literal('completed'), itemId: z.string(), batchId: z.string(), response: CompleteResponseSchema }),
  z.object({ status: z.literal('failed'), itemId: z.string(), batchId: z.string().optional(), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type BatchSubmitResponse = z.infer<typeof BatchSubmitResponseSchema>;

/** JetStream, stream KEEL_BATCHES: a batched model turn is settled (completed or failed); resume its task. */
export const BatchItemSettledSchema = z.object({
  itemId: z.string(),
  /** A task id is a UUID (as on keel.v1.steps.run): anything else can never be resumed, and is dead-lettered at once. */
  taskId: z.uuid(),
  tenant: z.string(),
  step: z.number().int().positive(),
  status: z.enum(['completed', 'failed']),
}).strict();
export type BatchItemSettled = z.infer<typeof BatchItemSettledSchema>;

/**
 * Request on `keel.v1.router.cache.forget-user`: the orchestrator deletes a user's memory
 * (`DELETE /v1/memory/users/{id}`) and first asks the router to delete the answers it cached in
 * that user's partition. `actor` names who asked, for the router's audit row.
 */
export const CacheForgetUserRequestSchema = z.object({
  tenant: z.string().min(1),
  userId: z.string().min(1).max(200),
  actor: z.object({ keyId: z.string(), name: z.string() }).strict(),
}).strict();
export type CacheForgetUserRequest = z.infer<typeof CacheForgetUserRequestSchema>;
export const CacheForgetUserResponseSchema = z.object({ deleted: z.number().int().nonnegative() });
