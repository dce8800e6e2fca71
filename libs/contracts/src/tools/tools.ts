import { z } from 'zod';

/** Request on `keel.v1.tools.execute`. `idempotencyKey` is `${taskId}:${step}:${callIndex}`. */
export const ExecuteToolRequestSchema = z.object({
  idempotencyKey: z.string().min(1).max(300),
  taskId: z.string(),
  tenant: z.string(),
  agent: z.string(),
  step: z.number().int().positive(),
  name: z.string().min(1).max(128),
  arguments: z.record(z.string(), z.unknown()),
  timeoutMs: z.number().int().positive().max(600_000),
  /** Re-run a call whose outcome is unknown, after a person decided so. */
  forceInDoubt: z.boolean().optional(),
  /**
   * Replay (docs/replay.md): the key of the call at the same position in the
   * recorded task. When that ledger row is settled, of the same tenant, tool
   * and arguments, its result is returned (and recorded under this key) and
   * the tool does not run.
   */
  replayOf: z.object({ idempotencyKey: z.string().min(1).max(300) }).strict().optional(),
  /** The approval gate a person decided to let this call run through (recorded in the tool-executor's audit log). */
  approvalGateId: z.string().min(1).max(100).optional(),
}).strict();
export type ExecuteToolRequest = z.infer<typeof ExecuteToolRequestSchema>;

export const ExecuteToolResponseSchema = z.object({
  ok: z.boolean(),
  /** The tool's result (JSON) when ok. */
  result: z.unknown().optional(),
  /** A tool error the model should see (bad arguments, egress denied, HTTP failure…). */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** True when the ledger already held this key and the tool did not run again. */
  replayed: z.boolean(),
  durationMs: z.number().nonnegative(),
  /** Set when the degradation ladder answered instead of the tool: an alternate tool, or a cached result and its age. */
  degraded: z.object({
    rung: z.enum(['alternate_tool', 'cached_result']),
    tool: z.string().optional(),
    ageMs: z.number().nonnegative().optional(),
    cause: z.object({ code: z.string(), message: z.string() }),
  }).optional(),
  /** Set when a read tool's result cache answered (the tool did not run): how old that result is. */
  cached: z.object({ ageMs: z.number().nonnegative() }).optional(),
  /** Replay: the recorded call's key whose result this is (the tool did not run). */
  replayedFrom: z.string().optional(),
});
export type ExecuteToolResponse = z.infer<typeof ExecuteToolResponseSchema>;

export const DescribeToolsRequestSchema = z.object({ agent: z.string() }).strict();
export type DescribeToolsRequest = z.infer<typeof DescribeToolsRequestSchema>;
