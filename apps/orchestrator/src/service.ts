import { z } from 'zod';
import { envInt, portSchema } from '@keel/config';
import { SigningKeyEnvSchema } from '@keel/contracts';
import type { ServiceDefinition } from '@keel/service-kit';
import { ORCHESTRATOR_MIGRATIONS } from './migrations';
import { OrchestratorModule, orchestratorAuthProviders } from './orchestrator.module';
import { openApiDocument } from './openapi/openapi';

export const orchestratorEnv = z.object({
  PORT: portSchema(8080),
  /** Seeds an admin key for tenant `default` at start (dev, tests, first install). */
  KEEL_BOOTSTRAP_API_KEY: z.string().min(8, 'must be at least 8 characters').optional(),
  /** Steps processed in parallel by one replica. */
  KEEL_STEP_CONCURRENCY: envInt(64, 1, 10_000),
  /** How long JetStream waits for a silent replica before redelivering its step (heartbeats extend it). */
  KEEL_STEP_ACK_WAIT_MS: envInt(10_000, 1000, 600_000),
  /** Deliveries of a step before it is dead-lettered and its task failed. */
  KEEL_STEP_MAX_DELIVER: envInt(5, 1, 100),
  /** A running step refreshes its task's heartbeat this often. */
  KEEL_HEARTBEAT_MS: envInt(10_000, 100, 600_000),
  /** No checkpoint or heartbeat for this long → the task is stalled: event, alert metric, re-dispatch. */
  KEEL_STALL_AFTER_MS: envInt(30_000, 500, 3_600_000),
  KEEL_WATCHDOG_INTERVAL_MS: envInt(5_000, 100, 600_000),
  /** HMAC key of approval decisions: the approval service's value. Decisions that do not verify are refused. */
  KEEL_APPROVAL_SIGNING_KEY: SigningKeyEnvSchema,
  /** Tenant whose audit log records agent policy changes (`policy.changed`; agent files are deployment-wide): the operator's. */
  KEEL_POLICY_AUDIT_TENANT: z.string().min(1).max(200).default('default'),
});

export const orchestratorService: ServiceDefinition<typeof orchestratorEnv> = {
  name: 'orchestrator',
  envSchema: orchestratorEnv,
  migrations: ORCHESTRATOR_MIGRATIONS,
  imports: () => [OrchestratorModule],
  providers: orchestratorAuthProviders,
  openapi: openApiDocument,
};
