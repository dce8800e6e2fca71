import { z } from 'zod';
import { ToolCallSchema } from '../router/router';

export const RiskTierSchema = z.enum(['auto', 'review', 'approve']);
export type RiskTier = z.infer<typeof RiskTierSchema>;

/**
 * The pseudo tool call an approval gate holds when the guardrail escalates a user input and the agent
 * says `guardrail.onEscalate: review`: its arguments are the input as screened (secrets cut), the
 * categories and the score; approving lets the task run with that input. The dot keeps it apart from
 * real tool names (agent files and MCP servers cannot declare it).
 */
export const INPUT_REVIEW_TOOL = 'keel.input_review';

/** Request on `keel.v1.approvals.check`: may these proposed tool calls run? */
export const ApprovalCheckRequestSchema = z.object({
  taskId: z.string(),
  tenant: z.string(),
  agent: z.string(),
  step: z.number().int().positive(),
  confidence: z.number().min(0).max(1).optional(),
  calls: z.array(ToolCallSchema).min(1),
  /** Indices of calls whose earlier run has an unknown outcome (not idempotent): a person decides whether to run them again. */
  inDoubt: z.array(z.number().int().nonnegative()).optional(),
  /** The task's intent (`@keel/policy` classifyIntent): a read-only task's write calls need a person. */
  intent: z.enum(['read_only', 'act']).optional(),
  /**
   * Permission and risk the tool registry declares, by tool name (from `keel.v1.tools.describe`), so the
   * approval service decides as the orchestrator did for tools `@keel/policy` has no built-in profile for
   * (HTTP tools declared in agent files, MCP tools).
   */
  specs: z.record(z.string(), z.object({
    permission: z.enum(['read', 'write', 'destructive']).optional(),
    risk: RiskTierSchema.optional(),
  }).strict()).optional(),
}).strict();
export type ApprovalCheckRequest = z.infer<typeof ApprovalCheckRequestSchema>;

export const CallDecisionSchema = z.object({
  index: z.number().int().nonnegative(),
  /** run: execute now; review: execute and flag for review; wait: a gate holds it; rejected: a person said no. */
  action: z.enum(['run', 'review', 'wait', 'rejected']),
  tier: RiskTierSchema,
  reason: z.string(),
  gateId: z.string().optional(),
  comment: z.string().optional(),
  /** With `rejected`: nobody decided before the gate's deadline (approval timed out); the call did not run. */
  expired: z.boolean().optional(),
});
export type CallDecision = z.infer<typeof CallDecisionSchema>;

export const ApprovalCheckResponseSchema = z.object({ decisions: z.array(CallDecisionSchema) });
export type ApprovalCheckResponse = z.infer<typeof ApprovalCheckResponseSchema>;

const gateEventBase = {
  gateId: z.string(),
  taskId: z.uuid(),
  tenant: z.string(),
  step: z.number().int().positive(),
  /** Position of the gated call in the model turn (absent on messages from before it was added). */
  index: z.number().int().nonnegative().optional(),
  /** The gate's revision (re-openings) the message is about. */
  revision: z.number().int().nonnegative(),
  /** sha256 of the canonical JSON of the arguments the decision covers (`argsHash`). */
  argsHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** HMAC-SHA256 over gateId|revision|argsHash|decision|tenant (`decisionSignature`), hex. */
  signature: z.string().regex(/^[0-9a-f]{64}$/),
};

/**
 * Event on `keel.v1.approvals.decided` (JetStream, stream `KEEL_APPROVALS`),
 * one subject for every transition of a gate the waiting task must hear of:
 * - `decided`: a person approved or rejected; the orchestrator resumes the step;
 * - `expired`: nobody decided in time (terminal, like a rejection; the call does not run); the orchestrator resumes the step;
 * - `escalated`: the deadline passed and the gate moved to the next group; the orchestrator only records it.
 * Every message is signed (`decisionSignature`); the orchestrator refuses one whose signature does not verify.
 */
export const ApprovalDecidedSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('decided'),
    ...gateEventBase,
    decision: z.enum(['approve', 'reject']),
    decidedBy: z.string(),
    comment: z.string().optional(),
  }).strict(),
  z.object({
    kind: z.literal('expired'),
    ...gateEventBase,
    decision: z.literal('expired'),
    reason: z.string(),
  }).strict(),
  z.object({
    kind: z.literal('escalated'),
    ...gateEventBase,
    decision: z.literal('escalated'),
    /** 1 for the first group of the agent's escalation chain, and so on. */
    level: z.number().int().positive(),
    group: z.string(),
    expiresAt: z.string(),
  }).strict(),
]);
export type ApprovalDecided = z.infer<typeof ApprovalDecidedSchema>;
export type ApprovalDecisionKind = ApprovalDecided['decision'];

/**
 * Request on `keel.v1.approvals.withdraw`: the task ended while gates of it may still be pending
 * (cancelled, or past its deadline). They become `withdrawn`: off the console's pending list, no
 * decision possible, no message published (nothing waits for one). Best effort from the orchestrator:
 * a gate it misses still expires at its own deadline.
 */
export const ApprovalWithdrawRequestSchema = z.object({
  taskId: z.uuid(),
  tenant: z.string().min(1),
  reason: z.enum(['cancelled', 'timed_out']),
}).strict();
export type ApprovalWithdrawRequest = z.infer<typeof ApprovalWithdrawRequestSchema>;
export const ApprovalWithdrawResponseSchema = z.object({ withdrawn: z.number().int().nonnegative() });

export const DecisionBodySchema = z.object({
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(10_000).optional(),
}).strict();
