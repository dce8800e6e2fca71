import { Module } from '@nestjs/common';
import { ENV, LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { ToolExecutorService, TOOL_REGISTRY } from './execution/tool-executor.service';
import { ToolsMessageController } from './execution/tools.message.controller';
import { LedgerRepository } from './ledger/ledger.repository';
import { McpToolSource, mcpHubProvider } from './mcp';
import { sandboxConfigFromEnv } from './sandbox';
import type { SandboxEnv } from './sandbox';
import { builtInTools } from './tools';

@Module({
  providers: [
    {
      provide: TOOL_REGISTRY,
      useFactory: (env: { KEEL_ENABLE_BENCH_TOOLS: boolean } & SandboxEnv, logger: Logger) => {
        const registry = builtInTools({ benchTools: env.KEEL_ENABLE_BENCH_TOOLS, runCode: { config: sandboxConfigFromEnv(env), log: logger } });
        // Warm run_code now: its sandbox probe logs at startup whether bubblewrap works here (or why not).
        registry.get('run_code');
        return registry;
      },
      inject: [ENV, LOGGER],
    },
    LedgerRepository, ToolExecutorService, ToolsMessageController,
    // Tools imported from MCP servers (KEEL_MCP_SERVERS), registered into TOOL_REGISTRY as mcp_<server>_<tool>.
    mcpHubProvider, McpToolSource,
  ],
})
export class ToolExecutorModule {}
