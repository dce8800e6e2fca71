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

const PermissionSchema = z.enum(['read', 'write', 'destructive']);

/** Names the runtime owns: an HTTP tool declared in an agent file cannot take one (nor the `mcp_` prefix of imported MCP tools). */
export const RESERVED_TOOL_NAMES: readonly string[] = ['calculator', 'http_request', 'noop', 'run_code'];
/** What OpenAI (and most providers) accept as a function name. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
export const HTTP_TOOL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * An HTTP endpoint declared as a tool in the agent file (apps/tool-executor/README.md, "HTTP tools").
 * `{name}` placeholders in the URL's path or query are filled from the call's arguments, URL-encoded;
 * the scheme, host and port are fixed here.
 */
export const HttpToolSchema = z.object({
  method: z.enum(HTTP_TOOL_METHODS).default('GET'),
  url: z.string().max(8_192).regex(/^https?:\/\/[^/?#{}]+(?:[/?][^#]*)?$/, 'url is an absolute http(s) URL; {placeholders} only in the path or query, never in the host, and no #fragment'),
  /** Fixed request headers (e.g. Accept); runtime-owned ones such as Host or Idempotency-Key are refused by the tool-executor. */
  headers: z.record(z.string(), z.string()).optional(),
}).strict();
export type HttpTool = z.output<typeof HttpToolSchema>;

export const ToolRetrySchema = z.object({
  /** Attempts in all, the first included (1 = no retry). Only failures marked retryable are retried, within the call's timeout. */
  attempts: z.number().int().min(1).max(5),
  /** Wait before the second attempt; doubled for each further one. */
  backoffMs: z.number().int().nonnegative().max(60_000).default(200),
}).strict();
export type ToolRetry = z.output<typeof ToolRetrySchema>;

// `keel.` names are Keel's own pseudo tools (INPUT_REVIEW_TOOL): an agent file cannot declare or re-tier them.
const AgentToolName = z.string().min(1).refine((n) => !n.startsWith('keel.'), 'tool names starting with "keel." are reserved for Keel');

export const AgentToolSchema = z.union([
  AgentToolName,
  z.object({
    name: AgentToolName,
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
    effect: PermissionSchema.optional(),
    /** Same as `effect` (the name the tool registry uses); for an HTTP tool declared here, its permission (default from the method). */
    permission: PermissionSchema.optional(),
    /** Declares an HTTP endpoint as this tool (a name of its own, not a built-in one). */
    http: HttpToolSchema.optional(),
    /** For an `http` tool: what the model is told the tool does. */
    description: z.string().min(1).max(4_000).optional(),
    /** For an `http` tool: JSON Schema of its arguments (default: one required string per URL placeholder). */
    parameters: z.record(z.string(), z.unknown()).optional(),
    /** Retries of retryable failures (never for a not_idempotent tool); the tool's own policy when absent. */
    retry: ToolRetrySchema.optional(),
    /** Reuse a successful result of a read call with the same arguments for this long (the answer says how old it is). */
    resultCacheTtlMs: z.number().int().nonnegative().optional(),
  }).strict().superRefine((t, ctx) => {
    if (t.effect && t.permission && t.effect !== t.permission) {
      ctx.addIssue({ code: 'custom', path: ['permission'], message: `permission "${t.permission}" contradicts effect "${t.effect}"; set one of them` });
    }
    if (!t.http) {
      for (const key of ['description', 'parameters'] as const) {
        if (t[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is only for an HTTP tool declared here (add http: {method, url})` });
      }
      return;
    }
    if (!TOOL_NAME_PATTERN.test(t.name)) ctx.addIssue({ code: 'custom', path: ['name'], message: 'an HTTP tool\'s name is 1-64 letters, digits, _ or -' });
    if (RESERVED_TOOL_NAMES.includes(t.name) || t.name.startsWith('mcp_')) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `"${t.name}" is reserved for a built-in or MCP tool; give the HTTP tool a name of its own` });
    }
  }),
]).transform((t) => (typeof t === 'string' ? { name: t } : t));
export type AgentTool = z.output<typeof AgentToolSchema>;

/** Today's confidence thresholds and approval deadline (apps/approval/README.md). */
export const DEFAULT_APPROVALS = {
  autoAbove: 0.9,
  reviewAbove: 0.6,
  timeoutMs: 3_600_000,
  onTimeout: 'cancel',
  escalation: [],
} as const;

const DAY_MS = 86_400_000;
const GROUP = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'group is 1-64 letters, digits, . _ @ or -');

/**
 * Human approval for this agent's gated calls (apps/approval/README.md).
 * Confidence: at or above `autoAbove` the tool's tier stands; at or above
 * `reviewAbove` at least review; below it approve. An approval gate waits
 * `timeoutMs`; then `cancel` expires it (the call does not run) and
 * `escalate` hands it to each `escalation` group in turn, each for its own
 * `timeoutMs`, and expires it after the last.
 */
export const AgentApprovalsSchema = z.object({
  autoAbove: z.number().min(0).max(1).default(DEFAULT_APPROVALS.autoAbove),
  reviewAbove: z.number().min(0).max(1).default(DEFAULT_APPROVALS.reviewAbove),
  timeoutMs: z.number().int().min(100, 'timeoutMs is at least 100').max(30 * DAY_MS, 'timeoutMs is at most 30 days').default(DEFAULT_APPROVALS.timeoutMs),
  onTimeout: z.enum(['cancel', 'escalate']).default(DEFAULT_APPROVALS.onTimeout),
  escalation: z.array(z.object({
    group: GROUP,
    timeoutMs: z.number().int().min(100, 'timeoutMs is at least 100').max(30 * DAY_MS, 'timeoutMs is at most 30 days'),
  }).strict()).max(10, 'at most 10 escalation levels').default([]),
}).strict().superRefine((a, ctx) => {
  if (a.reviewAbove > a.autoAbove) {
    ctx.addIssue({ code: 'custom', path: ['reviewAbove'], message: `reviewAbove (${a.reviewAbove}) must not be above autoAbove (${a.autoAbove})` });
  }
  if (a.onTimeout === 'escalate' && a.escalation.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['escalation'], message: 'onTimeout: escalate needs at least one escalation entry ({group, timeoutMs})' });
  }
  if (a.onTimeout === 'cancel' && a.escalation.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['onTimeout'], message: 'escalation is set but onTimeout is cancel; set onTimeout: escalate to use it' });
  }
});
export type AgentApprovals = z.output<typeof AgentApprovalsSchema>;

/** The agent's approval settings with every default filled in. */
export function approvalSettings(agent: { approvals?: Partial<AgentApprovals> }): AgentApprovals {
  const a = agent.approvals ?? {};
  return {
    autoAbove: a.autoAbove ?? DEFAULT_APPROVALS.autoAbove,
    reviewAbove: a.reviewAbove ?? DEFAULT_APPROVALS.reviewAbove,
    timeoutMs: a.timeoutMs ?? DEFAULT_APPROVALS.timeoutMs,
    onTimeout: a.onTimeout ?? DEFAULT_APPROVALS.onTimeout,
    escalation: a.escalation ?? [],
  };
}

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

/** Defaults of an agent's conversation memory (apps/orchestrator/README.md, "Memory"). */
export const DEFAULT_MEMORY = {
  contextTokens: 8_000,
  window: 20,
  summaryEvery: 10,
  summaryTokens: 400,
  retrieveTopK: 5,
  minSimilarity: 0.2,
  factTokens: 600,
} as const;

/**
 * Conversation memory for tasks submitted with a `conversationId`: the prompt
 * is assembled within `contextTokens` by priority (system, task, working
 * memory, facts, retrieved turns, summary, recent turns); the last `window`
 * turns are sent as they are, older ones are summarised `summaryEvery` turns
 * at a time through the router with `summaryModel` (default: the agent's
 * model), and past turns and user facts are retrieved by similarity.
 */
export const AgentMemorySchema = z.object({
  contextTokens: z.number().int().min(256, 'contextTokens is at least 256').max(2_000_000).default(DEFAULT_MEMORY.contextTokens),
  window: z.number().int().min(0).max(1_000).default(DEFAULT_MEMORY.window),
  summaryEvery: z.number().int().min(1).max(1_000).default(DEFAULT_MEMORY.summaryEvery),
  summaryTokens: z.number().int().min(0).max(100_000).default(DEFAULT_MEMORY.summaryTokens),
  summaryModel: z.string().regex(/^[a-z0-9_-]+\/.+$/, 'model ids are provider/model, e.g. openai/gpt-4o-mini').optional(),
  retrieveTopK: z.number().int().min(0).max(100).default(DEFAULT_MEMORY.retrieveTopK),
  minSimilarity: z.number().min(-1).max(1).default(DEFAULT_MEMORY.minSimilarity),
  factTokens: z.number().int().min(0).max(100_000).default(DEFAULT_MEMORY.factTokens),
}).strict();
export type AgentMemory = z.output<typeof AgentMemorySchema>;

const VARIANT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * One arm of an A/B experiment: what it changes about the agent (docs/experiments.md).
 * `weight` is relative (70/30 and 7/3 are the same); 0 stops assigning new units to it.
 */
export const ExperimentVariantSchema = z.object({
  name: z.string().regex(VARIANT_NAME, 'variant names are lowercase letters, digits, - and _ (at most 63)'),
  weight: z.number().finite().nonnegative('weight must be 0 or more').max(1_000_000).optional(),
  systemPrompt: z.string().min(1).optional(),
  model: ModelId.optional(),
  routing: RoutingSchema.optional(),
}).strict();
export type ExperimentVariant = z.output<typeof ExperimentVariantSchema>;

/**
 * An A/B experiment on the agent: each task is assigned one variant, sticky by
 * user (apps/orchestrator/src/experiments/variants.ts). Weights default to equal;
 * give a weight to every variant or to none.
 */
export const ExperimentSchema = z.object({
  name: z.string().regex(VARIANT_NAME, 'experiment names are lowercase letters, digits, - and _ (at most 63)'),
  variants: z.array(ExperimentVariantSchema).min(2, 'an experiment needs at least 2 variants').max(10, 'an experiment has at most 10 variants'),
}).strict().superRefine((e, ctx) => {
  const seen = new Set<string>();
  e.variants.forEach((v, i) => {
    if (seen.has(v.name)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'name'], message: `variant names must be unique: "${v.name}" appears twice` });
    seen.add(v.name);
  });
  const weighted = e.variants.filter((v) => v.weight !== undefined).length;
  if (weighted > 0 && weighted < e.variants.length) {
    const i = e.variants.findIndex((v) => v.weight === undefined);
    ctx.addIssue({ code: 'custom', path: ['variants', i, 'weight'], message: `give every variant a weight or none (variant "${e.variants[i].name}" has none)` });
  } else if (weighted > 0 && e.variants.every((v) => (v.weight ?? 0) === 0)) {
    ctx.addIssue({ code: 'custom', path: ['variants', 0, 'weight'], message: 'at least one variant needs a weight above 0' });
  }
});
export type Experiment = z.output<typeof ExperimentSchema>;

/**
 * The agent as a variant of its experiment runs it: the variant's systemPrompt,
 * model and routing replace the agent's. An unknown or absent variant (the
 * experiment was edited since the task was assigned) leaves the agent as it is.
 * Pure; shared by the orchestrator (prompt, model) and the router (routing).
 */
export function withVariant<A extends { experiment?: Experiment; systemPrompt: string; model: string; routing?: Routing }>(agent: A, variant: string | null | undefined): A {
  if (!variant || !agent.experiment) return agent;
  const v = agent.experiment.variants.find((x) => x.name === variant);
  if (!v) return agent;
  return {
    ...agent,
    ...(v.systemPrompt !== undefined ? { systemPrompt: v.systemPrompt } : {}),
    ...(v.model !== undefined ? { model: v.model } : {}),
    ...(v.routing !== undefined ? { routing: v.routing } : {}),
  };
}

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
    /** Redact sensitive identifiers (ARNs, account ids, bucket hosts, client ids, usernames) in every screened text, not only report them. Default false. */
    redactIdentifiers: z.boolean().optional(),
    /**
     * A user input the guardrail escalates (injection score between the escalate and block thresholds):
     * fail the task with `input_blocked` (`fail`, default), or hold it for a person at an approval gate
     * (`review`: the task waits; approved, it runs with the input; rejected or expired, it fails).
     */
    onEscalate: z.enum(['fail', 'review']).default('fail'),
  }).strict().default({ intentMismatch: 'approve', onEscalate: 'fail' }),
  /** Confidence thresholds, approval deadline and escalation chain (defaults: DEFAULT_APPROVALS). */
  approvals: AgentApprovalsSchema.optional(),
  /** Turns for the `scripted` model when the task brings no `metadata.script`. */
  script: ScriptSchema.optional(),
  /** Conversation memory (used by tasks with a conversationId); DEFAULT_MEMORY when absent. */
  memory: AgentMemorySchema.default(DEFAULT_MEMORY),
  /** An A/B experiment over systemPrompt / model / routing (docs/experiments.md). */
  experiment: ExperimentSchema.optional(),
}).passthrough();
export type Agent = z.output<typeof AgentSchema>;
