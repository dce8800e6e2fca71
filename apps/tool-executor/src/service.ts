import { z } from 'zod';
import { envBool, envInt, portSchema } from '@keel/config';
import type { ServiceDefinition } from '@keel/service-kit';
import { TOOL_EXECUTOR_MIGRATIONS } from './migrations';
import { ToolExecutorModule } from './tool-executor.module';

export const toolExecutorEnv = z.object({
  PORT: portSchema(8084),
  /** Registers the `noop` tool, for benchmarks and tests only. */
  KEEL_ENABLE_BENCH_TOOLS: envBool(false),
  /** MCP servers to import tools from: a JSON array (apps/tool-executor/README.md, "MCP servers"); none when unset. */
  KEEL_MCP_SERVERS: z.string().optional(),
  /** How long startup waits for the MCP servers' first connection before reporting ready without them. */
  KEEL_MCP_CONNECT_WAIT_MS: envInt(10_000, 0, 120_000),
  /** Consecutive failures of a remote tool dependency (http_request per host, HTTP and MCP tools) that open its breaker… */
  KEEL_TOOL_BREAKER_FAILURES: envInt(5, 1, 1000),
  /** …and how long it stays open before one probe; meanwhile calls go to the alternate tool or a cached result. */
  KEEL_TOOL_BREAKER_COOLDOWN_MS: envInt(30_000, 100, 3_600_000),
  // run_code sandbox (apps/tool-executor/README.md, "run_code").
  /** bubblewrap binary; unset: /usr/bin/bwrap, /usr/local/bin/bwrap or /bin/bwrap. */
  KEEL_SANDBOX_BWRAP: z.string().optional(),
  /** Longest wall time of one run (a call's own timeout can only lower it). */
  KEEL_SANDBOX_TIMEOUT_MS: envInt(5_000, 100, 600_000),
  /** Memory of one run (all its processes), through its cgroup. */
  KEEL_SANDBOX_MEMORY_MB: envInt(256, 32, 65_536),
  /** Processes + threads of one run, through its cgroup. */
  KEEL_SANDBOX_PIDS: envInt(64, 16, 4_096),
  /** stdout + stderr kept per run; more kills the run. */
  KEEL_SANDBOX_OUTPUT_BYTES: envInt(1_048_576, 1_024, 67_108_864),
  /** Size of each writable tmpfs (work dir, /tmp, /dev/shm). */
  KEEL_SANDBOX_TMPFS_MB: envInt(64, 1, 4_096),
  /** Runs at once per replica; more wait for a slot. */
  KEEL_SANDBOX_CONCURRENCY: envInt(4, 1, 256),
  /** auto: a cgroup per run when writable, else rlimits (logged); off: rlimits only. */
  KEEL_SANDBOX_CGROUPS: z.enum(['auto', 'off']).default('auto'),
  /** Host uid/gid the sandbox runs as when the executor runs as root. */
  KEEL_SANDBOX_UID: envInt(65_534, 1, 4_294_967_294),
  /** QuickJS heap for language "js". */
  KEEL_SANDBOX_JS_MEMORY_MB: envInt(64, 8, 1_024),
});

export const toolExecutorService: ServiceDefinition<typeof toolExecutorEnv> = {
  name: 'tool-executor',
  envSchema: toolExecutorEnv,
  migrations: TOOL_EXECUTOR_MIGRATIONS,
  imports: () => [ToolExecutorModule],
};
