import { Module } from '@nestjs/common';
import { ENV, LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { CircuitBreakers } from '@keel/resilience';
import { gauge } from '@keel/telemetry';
import { AuditQueryResponder } from './audit/audit-query.responder';
import { ToolExecutorService, TOOL_BREAKERS, TOOL_REGISTRY } from './execution/tool-executor.service';
import { ToolsMessageController } from './execution/tools.message.controller';
import { LedgerRepository } from './ledger/ledger.repository';
import { McpToolSource, mcpHubProvider } from './mcp';
import { sandboxConfigFromEnv } from './sandbox';
import type { SandboxEnv } from './sandbox';
import { builtInTools } from './tools';

const breakerState = gauge('keel_tool_breaker_state', 'Circuit breaker per tool dependency (http_request per host, HTTP and MCP tools): 0 closed, 1 half-open, 2 open', ['target']);
const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

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
    {
      provide: TOOL_BREAKERS,
      useFactory: (env: { KEEL_TOOL_BREAKER_FAILURES: number; KEEL_TOOL_BREAKER_COOLDOWN_MS: number }) => new CircuitBreakers({
        failureThreshold: env.KEEL_TOOL_BREAKER_FAILURES, cooldownMs: env.KEEL_TOOL_BREAKER_COOLDOWN_MS,
        onChange: (target, state) => breakerState.set({ target }, BREAKER_VALUE[state]),
      }),
      inject: [ENV],
    },
    LedgerRepository, ToolExecutorService, ToolsMessageController, AuditQueryResponder,
    // Tools imported from MCP servers (KEEL_MCP_SERVERS), registered into TOOL_REGISTRY as mcp_<server>_<tool>.
    mcpHubProvider, McpToolSource,
  ],
})
export class ToolExecutorModule {}
