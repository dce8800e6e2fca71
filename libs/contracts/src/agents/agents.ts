import { z } from 'zod';
import { ScriptSchema } from '../router/router';
import { RiskTierSchema } from '../approvals/approvals';

/** Defaults from design.md ("Defaults that come from production experience"). */
export const DEFAULT_LIMITS = {
  maxSteps: 20,
  toolTimeoutMs: 10_000,
  stepTimeoutMs: 30_000,
  taskTimeoutMs: 300_000,
} as const;

const HostPattern = z.string().regex(/^(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/, 'allow entries are host or host:port');

export const AgentToolSchema = z.union([
  z.string().min(1),
  z.object({
    name: z.string().min(1),
    allow: z.array(HostPattern).optional(),
    risk: RiskTierSchema.optional(),
    timeoutMs: z.number().int().positive().optional(),
    /** Degradation ladder, rung 1: a tool taking the same arguments to try when this one fails. */
    fallback: z.string().min(1).optional(),
    /** Degradation ladder, rung 2: how old a cached successful result may be to stand in for a failure. */
    cacheTtlMs: z.number().int().nonnegative().optional(),
    /** Stricter semantics than the tool's own, e.g. an HTTP API that ignores Idempotency-Key: not_idempotent. */
    idempotency: z.enum(['idempotent_by_key', 'not_idempotent']).optional(),
    /** What the tool does to the world, for the intent policy (default: built in per tool; unknown tools write). */
    effect: z.enum(['read', 'write', 'destructive']).optional(),
  }).strict(),
]).transform((t) => (typeof t === 'string' ? { name: t } : t));
export type AgentTool = z.output<typeof AgentToolSchema>;

const ModelId = z.string().regex(/^[a-z0-9_-]+\/.+$/, 'model ids are provider/model, e.g. openai/gpt-4o-mini');

/** How the router picks a model for this agent (apps/router/README.md). */
export const RoutingSchema = z.object({
  /** First matching rule wins; otherwise the classifier, otherwise the agent's `model`. */
  rules: z.array(z.object({
    when: z.object({
      keywords: z.array(z.string().min(1)).optional(),
      minInputTokens: z.number().int().positive().optional(),
      taskType: z.string().min(1).optional(),
    }).strict(),
    model: ModelId,
  }).strict()).default([]),
  /** Route inputs the built-in difficulty classifier scores at or above `threshold` to `hardModel`. */
  classifier: z.object({ hardModel: ModelId, threshold: z.number().min(0).max(1).default(0.6) }).strict().optional(),
  /** Cheap model first; escalate to the next when its answer is empty, fails `validate`, or its confidence (scripted turns; OpenAI logprobs) is below `minConfidence`. */
  cascade: z.object({
    models: z.array(ModelId).min(2),
    minConfidence: z.number().min(0).max(1).default(0.7),
    /** `json`: an answer (without tool calls) that is not valid JSON escalates too. */
    validate: z.enum(['json']).optional(),
  }).strict().optional(),
  /** Tried in order when a model fails after its retries, or its circuit breaker is open. */
  fallbacks: z.array(ModelId).default([]),
}).strict();
export type Routing = z.output<typeof RoutingSchema>;

export const AgentSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'name is lowercase letters, digits, - and _'),
  description: z.string().optional(),
  model: ModelId,
  routing: RoutingSchema.optional(),
  /** Reuse answers from the router's response cache (exact, and semantic at ≥ 0.95); off unless the agent opts in. */
  cache: z.boolean().default(false),
  systemPrompt: z.string().default('You are a helpful assistant.'),
  tools: z.array(AgentToolSchema).default([]),
  limits: z.object({
    maxSteps: z.number().int().positive().max(1000).default(DEFAULT_LIMITS.maxSteps),
    toolTimeoutMs: z.number().int().positive().default(DEFAULT_LIMITS.toolTimeoutMs),
    stepTimeoutMs: z.number().int().positive().default(DEFAULT_LIMITS.stepTimeoutMs),
    taskTimeoutMs: z.number().int().positive().default(DEFAULT_LIMITS.taskTimeoutMs),
  }).strict().default(DEFAULT_LIMITS),
  /** Screening and action policy for this agent (apps/guardrail/README.md, libs/policy/README.md). */
  guardrail: z.object({
    /** Injection score at which the user input is blocked / sent to a person; the guardrail's defaults when absent. */
    thresholds: z.object({ block: z.number().min(0).max(1).optional(), escalate: z.number().min(0).max(1).optional() }).strict().optional(),
    /** A read-only task proposing a write or destructive call: ask a person (`approve`, default) or refuse it (`block`). */
    intentMismatch: z.enum(['approve', 'block']).default('approve'),
  }).strict().default({ intentMismatch: 'approve' }),
  /** Turns for the `scripted` model when the task brings no `metadata.script`. */
  script: ScriptSchema.optional(),
}).passthrough();
export type Agent = z.output<typeof AgentSchema>;
