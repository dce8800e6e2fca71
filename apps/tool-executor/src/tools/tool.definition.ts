import { z } from 'zod';

export type Permission = 'read' | 'write' | 'destructive';
export type Idempotency = 'pure' | 'idempotent_by_key' | 'not_idempotent';
export type RiskLevel = 'auto' | 'review' | 'approve';
/** Where a tool comes from: Keel itself, an HTTP endpoint declared in an agent file, or an MCP server. */
export type ToolSource = 'builtin' | 'http' | 'mcp';

export interface ToolContext {
  /** Sent as the Idempotency-Key header by HTTP tools. */
  idempotencyKey: string;
  /** The agent's egress allowlist for this tool: "host", "host:port", "[v6]:port" or "*.example.com". */
  allow: readonly string[];
  timeoutMs: number;
  /** Aborted when the caller's deadline passes. */
  signal: AbortSignal;
}

/**
 * Retries of failures the tool marks retryable (a KeelError with `retryable: true`: a
 * connection refused or reset, an MCP server that went away), all within the call's one
 * timeout. Never applied to a call whose effective idempotency is `not_idempotent`.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included: 1 means no retry. */
  attempts: number;
  /** Wait before the second attempt; doubled for each further one, capped at 5 s. */
  backoffMs: number;
}

export const NO_RETRY: RetryPolicy = { attempts: 1, backoffMs: 0 };
export const MAX_RETRY_BACKOFF_MS = 5_000;

/**
 * Everything the runtime knows about a tool. Built-in tools define these in code; HTTP tools
 * declared in agent files and tools imported from MCP servers get them from configuration.
 */
export interface ToolDefinition<A = unknown> {
  name: string;
  description: string;
  /** Validated (by ToolRegistry.parseArgs) before execute; a JSON Schema tool wraps a JSON Schema validator here. */
  argsSchema: z.ZodType<A>;
  /** JSON Schema for the model (derived from argsSchema, or the tool's own). */
  parameters: Record<string, unknown>;
  /** The strongest permission any call can need. */
  permission: Permission;
  /** Narrower permission for one call (e.g. GET is read-only); falls back to `permission`. */
  permissionFor?(args: A): Permission;
  /** Risk tier when the agent file sets none (exposed in `tools.describe` for the policy). */
  defaultRisk: RiskLevel;
  idempotency: Idempotency;
  execute(args: A, ctx: ToolContext): Promise<unknown>;
  /** Prepares slow resources in the background; the registry calls it once, on the tool's first lookup. */
  warmUp?(): void;
  /** The tool's own time limit; a call gets the smaller of this and the request's `timeoutMs`. */
  timeoutMs?: number;
  /** Retry policy for retryable failures; none when absent. */
  retry?: RetryPolicy;
  /** An alternate tool taking the same arguments (ladder rung 1) when the agent file names none. */
  fallback?: string;
  /** A successful `read` call's result is reused for the same arguments for this long (ms); off when absent. */
  resultCacheTtlMs?: number;
  source?: ToolSource;
}

/** The tier a tool gets from its permission when nothing else says: reads run, writes are reviewed, destruction is approved. */
export function riskForPermission(permission: Permission): RiskLevel {
  return permission === 'read' ? 'auto' : permission === 'write' ? 'review' : 'approve';
}

/**
 * JSON Schema for the model. `$schema` is dropped: it is noise in the prompt and
 * some providers reject unknown top-level keywords in function parameters.
 */
export function parametersOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema) as Record<string, unknown>;
  return rest;
}
