import { createHash } from 'node:crypto';
import { KeelError } from '@keel/contracts';
import { jsonSchemaArgs, modelParameters } from '../tools/json-schema';
import { riskForPermission } from '../tools/tool.definition';
import type { ToolContext, ToolDefinition } from '../tools/tool.definition';
import type { McpServerConfig, McpToolOverride } from './mcp.config';

/**
 * Tools an MCP server lists, as Keel tools. Names follow OpenAI's rule for function names
 * (`^[a-zA-Z0-9_-]{1,64}$`, which every provider accepts): `mcp_<server>_<tool>`. A tool name
 * with other characters (MCP allows '.', '/', …) has them replaced by '_', and gets a short
 * hash of the original appended so two such names cannot meet; so does one too long to fit.
 */
export const MCP_NAME_PREFIX = 'mcp_';
const MAX_NAME = 64;
/** Text a tool returns beyond this is cut (the model is told); same cap as http_request's bodies. */
export const MAX_MCP_RESULT_CHARS = 1024 * 1024;

export function mcpToolName(server: string, tool: string): string {
  const head = `${MCP_NAME_PREFIX}${server}_`;
  const safe = tool.replace(/[^A-Za-z0-9_-]/g, '_');
  if (safe === tool && safe.length > 0 && head.length + safe.length <= MAX_NAME) return head + safe;
  const hash = createHash('sha256').update(tool).digest('hex').slice(0, 8);
  const room = MAX_NAME - head.length - hash.length - 1;
  return `${head}${safe.slice(0, room)}_${hash}`;
}

/** What `tools/list` says about one tool (the fields Keel uses). */
export interface ListedMcpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

/** The parts of a `tools/call` result Keel reads. */
export interface McpCallResult {
  content?: unknown[];
  structuredContent?: unknown;
  isError?: boolean;
  toolResult?: unknown;
}

export type McpCaller = (tool: string, args: Record<string, unknown>, opts: { timeoutMs: number; signal: AbortSignal }) => Promise<McpCallResult>;

/** Per-tool entry over the server's `defaults`; nothing set means the strictest profile. */
export function mcpOverride(server: Pick<McpServerConfig, 'tools' | 'defaults'>, tool: string): McpToolOverride {
  return { ...server.defaults, ...server.tools[tool] };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? 'unknown');

function partText(part: unknown): string | undefined {
  if (!part || typeof part !== 'object') return undefined;
  const p = part as Record<string, unknown>;
  switch (p.type) {
    case 'text':
      return typeof p.text === 'string' ? p.text : undefined;
    case 'image':
    case 'audio':
      return `[${p.type} (${str(p.mimeType)}) not shown]`;
    case 'resource': {
      const r = (p.resource ?? {}) as Record<string, unknown>;
      return typeof r.text === 'string' ? r.text : `[resource ${str(r.uri)}${typeof r.mimeType === 'string' ? ` (${r.mimeType})` : ''} not shown]`;
    }
    case 'resource_link':
      return `[resource link: ${str(p.uri)}${typeof p.name === 'string' ? ` (${p.name})` : ''}]`;
    default:
      return undefined;
  }
}

function capped(text: string): string {
  return text.length > MAX_MCP_RESULT_CHARS ? `${text.slice(0, MAX_MCP_RESULT_CHARS)}\n[truncated: the tool returned ${text.length} characters]` : text;
}

/**
 * A `tools/call` result as a tool result: `isError` becomes a tool error (ok: false) with the
 * server's text; otherwise `structuredContent` when the tool sent it, else its text parts
 * joined (images, audio and binary resources are named, not passed on).
 */
export function mapCallResult(keelName: string, result: McpCallResult): unknown {
  if (result.content === undefined && 'toolResult' in result) return result.toolResult; // protocol 2024-10-07 servers
  const text = capped((result.content ?? []).map(partText).filter((t): t is string => t !== undefined).join('\n'));
  if (result.isError) throw new KeelError('tool_error', `${keelName}: ${text.trim() || 'the MCP tool reported an error'}`);
  if (result.structuredContent !== undefined && result.structuredContent !== null) return result.structuredContent;
  return text;
}

/** One listed tool as a Keel tool; throws when its input schema cannot be compiled. */
export function mcpToolDefinition(server: Pick<McpServerConfig, 'name' | 'tools' | 'defaults'>, tool: ListedMcpTool, call: McpCaller): ToolDefinition<Record<string, unknown>> {
  const name = mcpToolName(server.name, tool.name);
  const o = mcpOverride(server, tool.name);
  const permission = o.permission ?? 'destructive';
  const parameters = modelParameters(tool.inputSchema);
  const description = (o.description ?? tool.description ?? tool.title ?? `${tool.name} (MCP server ${server.name})`).slice(0, 4_000);
  return {
    name,
    description,
    argsSchema: jsonSchemaArgs(parameters),
    parameters,
    permission,
    defaultRisk: o.risk ?? riskForPermission(permission),
    idempotency: o.idempotency ?? (permission === 'read' ? 'idempotent_by_key' : 'not_idempotent'),
    timeoutMs: o.timeoutMs,
    retry: o.retry,
    resultCacheTtlMs: o.resultCacheTtlMs,
    fallback: o.fallback,
    source: 'mcp',
    async execute(args: Record<string, unknown>, ctx: ToolContext): Promise<unknown> {
      return mapCallResult(name, await call(tool.name, args, { timeoutMs: ctx.timeoutMs, signal: ctx.signal }));
    },
  };
}
