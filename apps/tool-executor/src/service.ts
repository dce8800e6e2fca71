import { z } from 'zod';
import { portSchema } from '@keel/config';
import type { ServiceDefinition } from '@keel/service-kit';
import { Ledger1764000000002 } from './migrations/1764000000002-ledger';
import { ToolExecutorModule } from './tool-executor.module';

export const toolExecutorEnv = z.object({ PORT: portSchema(8084) });

export const toolExecutorService: ServiceDefinition<typeof toolExecutorEnv> = {
  name: 'tool-executor',
  envSchema: toolExecutorEnv,
  migrations: [Ledger1764000000002],
  imports: () => [ToolExecutorModule],
};
