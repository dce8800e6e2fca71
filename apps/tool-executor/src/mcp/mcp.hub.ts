import { counter, gauge } from '@keel/telemetry';
import type { ToolRegistry } from '../tools/tool.registry';
import { McpConnection } from './mcp.connection';
import type { McpConnectionOptions, McpServerStatus } from './mcp.connection';
import type { McpServerConfig } from './mcp.config';
import { mcpToolDefinition } from './mcp.tools';
import type { ListedMcpTool } from './mcp.tools';

const serverUp = gauge('keel_mcp_server_up', 'MCP servers: 1 while connected, 0 while down or connecting', ['server']);
const connects = counter('keel_mcp_connects_total', 'MCP connection attempts by outcome', ['server', 'outcome']);
const importedTools = gauge('keel_mcp_tools', 'Tools imported from each MCP server', ['server']);

export interface McpHubOptions extends Partial<Pick<McpConnectionOptions, 'connectTimeoutMs' | 'backoff' | 'pingIntervalMs'>> {
  log: McpConnectionOptions['log'];
}

/**
 * The MCP servers of this tool-executor and the tools they lend to the registry. Each
 * server's listing replaces its previous tools (`mcp_<server>_<tool>`); a server that goes
 * down keeps its tools registered (a call fails with `unavailable` until it is back).
 */
export class McpHub {
  private readonly connections: McpConnection[];
  /** Keel tool names registered for each server. */
  private readonly registered = new Map<string, Set<string>>();
  private readonly log: McpHubOptions['log'];

  constructor(servers: readonly McpServerConfig[], private readonly registry: ToolRegistry, options: McpHubOptions) {
    this.log = options.log;
    this.connections = servers.map((config) => new McpConnection(config, {
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      backoff: options.backoff ?? { minMs: 500, maxMs: 30_000 },
      pingIntervalMs: options.pingIntervalMs ?? 15_000,
      log: options.log,
      onTools: (server, tools) => this.sync(server, tools),
      onState: (server, status) => {
        serverUp.set({ server }, status.state === 'up' ? 1 : 0);
        if (status.state === 'up') connects.inc({ server, outcome: 'ok' });
        if (status.state === 'down' && status.failures > 0) connects.inc({ server, outcome: 'failed' });
      },
    }));
  }

  get size(): number {
    return this.connections.length;
  }

  /**
   * Connects every server. Waits at most `waitMs` for the first attempts (so tools are
   * there when the service reports ready, but a dead server cannot hold it back); servers
   * not up by then keep trying in the background.
   */
  async start(waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    });
    await Promise.race([Promise.all(this.connections.map((c) => c.start())), waited]);
    clearTimeout(timer);
  }

  status(): McpServerStatus[] {
    return this.connections.map((c) => c.status());
  }

  /** For /readyz: every server and the names of those that are down (they do not make the service unready). */
  readiness(): { servers: McpServerStatus[]; down: string[] } {
    const servers = this.status();
    return { servers, down: servers.filter((s) => s.state !== 'up').map((s) => s.name) };
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.close()));
  }

  private sync(server: string, tools: readonly ListedMcpTool[]): void {
    const connection = this.connections.find((c) => c.name === server);
    if (!connection) return;
    const before = this.registered.get(server) ?? new Set<string>();
    const now = new Set<string>();
    for (const tool of tools) {
      let def;
      try {
        def = mcpToolDefinition(connection.config, tool, (name, args, opts) => connection.callTool(name, args, opts));
      } catch (err) {
        this.log.warn({ mcp_server: server, tool: tool.name, err: err instanceof Error ? err.message : String(err) }, 'MCP tool skipped: its input schema cannot be used');
        continue;
      }
      const existing = this.registry.get(def.name);
      if (existing && existing.source !== 'mcp') {
        this.log.warn({ mcp_server: server, tool: tool.name, name: def.name }, 'MCP tool skipped: its name is taken');
        continue;
      }
      this.registry.replace(def);
      now.add(def.name);
    }
    for (const name of before) if (!now.has(name)) this.registry.unregister(name);
    this.registered.set(server, now);
    importedTools.set({ server }, now.size);
  }

  /** Keel tool names of a server's tools (for tests and logs). */
  toolNames(server: string): string[] {
    return [...(this.registered.get(server) ?? [])];
  }
}
