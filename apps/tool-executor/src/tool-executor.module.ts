import { Module } from '@nestjs/common';
import { ENV } from '@keel/service-kit';
import { ToolExecutorService, TOOL_REGISTRY } from './execution/tool-executor.service';
import { ToolsMessageController } from './execution/tools.message.controller';
import { LedgerRepository } from './ledger/ledger.repository';
import { builtInTools } from './tools';

@Module({
  providers: [
    { provide: TOOL_REGISTRY, useFactory: (env: { KEEL_ENABLE_BENCH_TOOLS: boolean }) => builtInTools({ benchTools: env.KEEL_ENABLE_BENCH_TOOLS }), inject: [ENV] },
    LedgerRepository, ToolExecutorService, ToolsMessageController,
  ],
})
export class ToolExecutorModule {}
