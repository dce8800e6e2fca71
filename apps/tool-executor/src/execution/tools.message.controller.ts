import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { DescribeToolsRequestSchema, ExecuteToolRequestSchema, QueueGroups, Subjects } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { ToolExecutorService } from './tool-executor.service';

/** `keel.v1.tools.execute` and `keel.v1.tools.describe` (request/reply, queue group `tool-executor`). */
@Injectable()
export class ToolsMessageController implements OnApplicationBootstrap {
  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(ToolExecutorService) private readonly executor: ToolExecutorService) {}

  onApplicationBootstrap(): void {
    this.bus.serve({ subject: Subjects.toolsExecute, queue: QueueGroups.toolExecutor, schema: ExecuteToolRequestSchema, handler: (req) => this.executor.execute(req) });
    this.bus.serve({ subject: Subjects.toolsDescribe, queue: QueueGroups.toolExecutor, schema: DescribeToolsRequestSchema, handler: async (req) => this.executor.describe(req.agent) });
  }
}
