import { z } from 'zod';
import { parametersOf } from './tool.definition';
import type { ToolDefinition } from './tool.definition';

// Other arguments are accepted and ignored, so noop can stand in as any tool's alternate in ladder tests.
export const NoopArgsSchema = z.looseObject({
  echo: z.string().max(1_000, 'echo is longer than 1000 characters').optional().describe('Returned unchanged.'),
});
export type NoopArgs = z.infer<typeof NoopArgsSchema>;

/**
 * Does nothing and returns at once: lets benchmarks and tests measure the step
 * machinery without any tool cost. Registered only with `builtInTools({ benchTools: true })`.
 */
export function noopTool(): ToolDefinition<NoopArgs> {
  return {
    name: 'noop',
    description: 'Does nothing and returns {ok: true, echo}. Exists only for benchmarks and tests of the agent runtime; it has no effect.',
    argsSchema: NoopArgsSchema,
    parameters: parametersOf(NoopArgsSchema),
    permission: 'read',
    defaultRisk: 'auto',
    idempotency: 'pure',
    execute(args: NoopArgs): Promise<{ ok: true; echo?: string }> {
      return Promise.resolve(args.echo === undefined ? { ok: true } : { ok: true, echo: args.echo });
    },
  };
}
