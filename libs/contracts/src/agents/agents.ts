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
  }).strict(),
]).transform((t) => (typeof t === 'string' ? { name: t } : t));
export type AgentTool = z.output<typeof AgentToolSchema>;

export const AgentSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'name is lowercase letters, digits, - and _'),
  description: z.string().optional(),
  model: z.string().regex(/^[a-z0-9_-]+\/.+$/, 'model ids are provider/model, e.g. scripted/default'),
  systemPrompt: z.string().default('You are a helpful assistant.'),
  tools: z.array(AgentToolSchema).default([]),
  limits: z.object({
    maxSteps: z.number().int().positive().max(1000).default(DEFAULT_LIMITS.maxSteps),
    toolTimeoutMs: z.number().int().positive().default(DEFAULT_LIMITS.toolTimeoutMs),
    stepTimeoutMs: z.number().int().positive().default(DEFAULT_LIMITS.stepTimeoutMs),
    taskTimeoutMs: z.number().int().positive().default(DEFAULT_LIMITS.taskTimeoutMs),
  }).strict().default(DEFAULT_LIMITS),
  /** Turns for the `scripted` model when the task brings no `metadata.script`. */
  script: ScriptSchema.optional(),
}).passthrough();
export type Agent = z.output<typeof AgentSchema>;
