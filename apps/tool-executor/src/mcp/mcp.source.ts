import { Inject, Injectable } from '@nestjs/common';
import type { OnModuleDestroy, OnModuleInit, Provider } from '@nestjs/common';
import { ENV, LOGGER, ReadinessService } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { TOOL_REGISTRY } from '../execution/tool-executor.service';
import type { ToolRegistry } from '../tools';
import { parseMcpServers } from './mcp.config';
import { McpHub } from './mcp.hub';

export const MCP_HUB = Symbol('keel:mcp-hub');

export interface McpEnv {
  KEEL_MCP_SERVERS?: string;
  KEEL_MCP_CONNECT_WAIT_MS: number;
}

/** The hub for `KEEL_MCP_SERVERS` (null when none are configured); a bad setting stops the service at start. */
export const mcpHubProvider: Provider = {
  provide: MCP_HUB,
  inject: [ENV, TOOL_REGISTRY, LOGGER],
  useFactory: (env: McpEnv, registry: ToolRegistry, logger: Logger): McpHub | null => {
    const servers = parseMcpServers(env.KEEL_MCP_SERVERS);
    if (servers.length === 0) return null;
    const log = logger.child({ component: 'mcp' });
    return new McpHub(servers, registry, { log: { info: (obj, msg) => log.info(obj, msg), warn: (obj, msg) => log.warn(obj, msg) } });
  },
};

/**
 * Connects the MCP servers when the module starts, waiting at most KEEL_MCP_CONNECT_WAIT_MS
 * (then readiness does not wait for them any longer), reports them in /readyz under
 * `details.mcp`, and closes them (stopping stdio servers) on shutdown.
 */
@Injectable()
export class McpToolSource implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(MCP_HUB) private readonly hub: McpHub | null,
    @Inject(ENV) private readonly env: McpEnv,
    @Inject(ReadinessService) private readonly readiness: ReadinessService,
  ) {}

  async onModuleInit(): Promise<void> {
    const hub = this.hub;
    if (!hub) return;
    this.readiness.addDetail('mcp', () => hub.readiness());
    await hub.start(this.env.KEEL_MCP_CONNECT_WAIT_MS);
  }

  async onModuleDestroy(): Promise<void> {
    await this.hub?.close();
  }
}
