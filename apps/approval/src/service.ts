import { z } from 'zod';
import { envInt, portSchema } from '@keel/config';
import { SigningKeyEnvSchema } from '@keel/contracts';
import { NatsPrincipalResolver, PrincipalResolver } from '@keel/service-kit';
import type { ServiceDefinition } from '@keel/service-kit';
import { APPROVAL_MIGRATIONS } from './migrations';
import { ApprovalModule } from './approval.module';
import { openApiDocument } from './openapi/openapi';

export const approvalEnv = z.object({
  PORT: portSchema(8081),
  /** Public URL of this console, for links in gate reasons (task events) and logs, e.g. https://approvals.example.com. */
  KEEL_APPROVAL_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Slack-compatible incoming webhook: a post when a gate opens, is escalated or expires (retried from an outbox). */
  KEEL_APPROVAL_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** HMAC key of decisions, shared with the orchestrator (which verifies them). Unset: a random key per process, with a warning. */
  KEEL_APPROVAL_SIGNING_KEY: SigningKeyEnvSchema,
  /** How often gates past their deadline are escalated or expired. */
  KEEL_APPROVAL_SWEEP_MS: envInt(2_000, 100, 600_000),
  /** Trace UI (Jaeger) base URL, e.g. http://jaeger:16686: the console links each gate's task to `<url>/trace/<traceId>`. */
  KEEL_JAEGER_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
});

export const approvalService: ServiceDefinition<typeof approvalEnv> = {
  name: 'approval',
  envSchema: approvalEnv,
  migrations: APPROVAL_MIGRATIONS,
  imports: () => [ApprovalModule],
  // The orchestrator owns API keys: the shared resolver asks it on keel.v1.auth.verify (3 s timeout, 10 s cache).
  providers: [NatsPrincipalResolver, { provide: PrincipalResolver, useExisting: NatsPrincipalResolver }],
  openapi: openApiDocument,
};
