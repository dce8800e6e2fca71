import { z } from 'zod';
import { envBool, portSchema } from '@keel/config';
import type { ServiceDefinition } from '@keel/service-kit';
import { Ledger1764000000002 } from './migrations/1764000000002-ledger';
import { Degradation1764000000003 } from './migrations/1764000000003-degradation';
import { ToolExecutorModule } from './tool-executor.module';

export const toolExecutorEnv = z.object({
  PORT: portSchema(8084),
  /** Registers the `noop` tool, for benchmarks and tests only. */
  KEEL_ENABLE_BENCH_TOOLS: envBool(false),
});

export const toolExecutorService: ServiceDefinition<typeof toolExecutorEnv> = {
  name: 'tool-executor',
  envSchema: toolExecutorEnv,
  migrations: [Ledger1764000000002, Degradation1764000000003],
  imports: () => [ToolExecutorModule],
};
