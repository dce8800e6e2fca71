import { z } from 'zod';

export type Permission = 'read' | 'write' | 'destructive';
export type Idempotency = 'pure' | 'idempotent_by_key' | 'not_idempotent';
export type RiskLevel = 'auto' | 'review' | 'approve';

export interface ToolContext {
  /** Sent as the Idempotency-Key header by HTTP tools. */
  idempotencyKey: string;
  /** The agent's egress allowlist for this tool: "host", "host:port", "[v6]:port" or "*.example.com". */
  allow: readonly string[];
  timeoutMs: number;
  /** Aborted when the caller's deadline passes. */
  signal: AbortSignal;
}

export interface ToolDefinition<A = unknown> {
  name: string;
  description: string;
  /** Validated (by ToolRegistry.parseArgs) before execute. */
  argsSchema: z.ZodType<A>;
  /** JSON Schema for the model, derived from argsSchema. */
  parameters: Record<string, unknown>;
  /** The strongest permission any call can need. */
  permission: Permission;
  /** Narrower permission for one call (e.g. GET is read-only); falls back to `permission`. */
  permissionFor?(args: A): Permission;
  defaultRisk: RiskLevel;
  idempotency: Idempotency;
  execute(args: A, ctx: ToolContext): Promise<unknown>;
  /** Prepares slow resources in the background; the registry calls it once, on the tool's first lookup. */
  warmUp?(): void;
}

/**
 * JSON Schema for the model. `$schema` is dropped: it is noise in the prompt and
 * some providers reject unknown top-level keywords in function parameters.
 */
export function parametersOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema) as Record<string, unknown>;
  return rest;
}
