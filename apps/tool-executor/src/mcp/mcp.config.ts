import { z } from 'zod';
import { ConfigError } from '@keel/config';

/**
 * The MCP servers a tool-executor imports tools from, one JSON array in `KEEL_MCP_SERVERS`
 * (apps/tool-executor/README.md, "MCP servers"):
 *
 *   [{"name": "orders", "transport": "stdio", "command": "node", "args": ["server.mjs"], "env": {"TOKEN": "…"},
 *     "tools": {"lookup_order": {"permission": "read", "risk": "auto", "timeoutMs": 5000}}},
 *    {"name": "search", "transport": "http", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer …"}}]
 *
 * An imported tool is as strict as can be (`destructive`, risk `approve`, not idempotent, no retry)
 * unless the deployment says otherwise, per tool (`tools`) or for the whole server (`defaults`).
 */

const Permission = z.enum(['read', 'write', 'destructive']);

export const McpToolOverrideSchema = z.object({
  permission: Permission.optional(),
  /** Default: the permission's tier (read auto, write review, destructive approve). */
  risk: z.enum(['auto', 'review', 'approve']).optional(),
  timeoutMs: z.number().int().positive().max(600_000).optional(),
  /** Default: idempotent_by_key (safe to run again) for read tools, not_idempotent otherwise. */
  idempotency: z.enum(['idempotent_by_key', 'not_idempotent']).optional(),
  retry: z.object({ attempts: z.number().int().min(1).max(5), backoffMs: z.number().int().nonnegative().max(60_000).default(200) }).strict().optional(),
  resultCacheTtlMs: z.number().int().nonnegative().optional(),
  fallback: z.string().min(1).optional(),
  /** Replaces the server's description of the tool (what the model is told). */
  description: z.string().min(1).max(4_000).optional(),
}).strict();
export type McpToolOverride = z.output<typeof McpToolOverrideSchema>;

/** Lower case, digits and '-': no '_', so `mcp_<server>_<tool>` splits one way only. */
export const MCP_SERVER_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

const common = {
  name: z.string().regex(MCP_SERVER_NAME, 'a server name is 1-32 lower-case letters, digits or - (no _), starting with a letter or digit'),
  /** Per tool, by the name the server gives it. */
  tools: z.record(z.string(), McpToolOverrideSchema).default({}),
  /** For every tool of this server, under the per-tool entries. */
  defaults: McpToolOverrideSchema.optional(),
};

export const McpServerSchema = z.discriminatedUnion('transport', [
  z.object({
    ...common,
    transport: z.literal('stdio'),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    /** Added to a minimal environment (PATH, HOME, …): the server does not see the tool-executor's own variables. */
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().min(1).optional(),
  }).strict(),
  z.object({
    ...common,
    transport: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }),
    headers: z.record(z.string(), z.string()).optional(),
  }).strict(),
]);
export type McpServerConfig = z.output<typeof McpServerSchema>;

export const McpServersSchema = z.array(McpServerSchema).superRefine((servers, ctx) => {
  const seen = new Set<string>();
  for (const [i, s] of servers.entries()) {
    if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `two servers are named "${s.name}"` });
    seen.add(s.name);
  }
});

/** Parses `KEEL_MCP_SERVERS` (unset or empty: no servers); a bad entry is a ConfigError naming the field. */
export function parseMcpServers(raw: string | undefined, variable = 'KEEL_MCP_SERVERS'): McpServerConfig[] {
  if (raw === undefined || raw.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new ConfigError([`${variable}: must be a JSON array of MCP servers (${err instanceof Error ? err.message : String(err)})`]);
  }
  const parsed = McpServersSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((issue) => `${variable}${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`));
}
