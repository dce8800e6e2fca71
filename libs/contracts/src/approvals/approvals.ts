import { z } from 'zod';
import { ToolCallSchema } from '../router/router';

export const RiskTierSchema = z.enum(['auto', 'review', 'approve']);
export type RiskTier = z.infer<typeof RiskTierSchema>;

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
});
export type CallDecision = z.infer<typeof CallDecisionSchema>;

export const ApprovalCheckResponseSchema = z.object({ decisions: z.array(CallDecisionSchema) });
export type ApprovalCheckResponse = z.infer<typeof ApprovalCheckResponseSchema>;

/** Event on `keel.v1.approvals.decided` (JetStream). */
export const ApprovalDecidedSchema = z.object({
  gateId: z.string(),
  taskId: z.uuid(),
  tenant: z.string(),
  step: z.number().int().positive(),
  decision: z.enum(['approve', 'reject']),
  decidedBy: z.string(),
  comment: z.string().optional(),
}).strict();
export type ApprovalDecided = z.infer<typeof ApprovalDecidedSchema>;

export const DecisionBodySchema = z.object({
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(10_000).optional(),
}).strict();
