import { Module } from '@nestjs/common';
import { ToolExecutorService, TOOL_REGISTRY } from './execution/tool-executor.service';
import { ToolsMessageController } from './execution/tools.message.controller';
import { LedgerRepository } from './ledger/ledger.repository';
import { builtInTools } from './tools';

@Module({
  providers: [{ provide: TOOL_REGISTRY, useFactory: () => builtInTools() }, LedgerRepository, ToolExecutorService, ToolsMessageController],
})
export class ToolExecutorModule {}
