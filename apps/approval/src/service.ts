import { z } from 'zod';
import { portSchema } from '@keel/config';
import { NatsPrincipalResolver, PrincipalResolver } from '@keel/service-kit';
import type { ServiceDefinition } from '@keel/service-kit';
import { Gates1764000000001 } from './migrations/1764000000001-gates';
import { ApprovalModule } from './approval.module';
import { openApiDocument } from './openapi/openapi';

export const approvalEnv = z.object({
  PORT: portSchema(8081),
  /** Public URL of this console, for links in gate reasons (task events) and logs, e.g. https://approvals.example.com. */
  KEEL_APPROVAL_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
});

export const approvalService: ServiceDefinition<typeof approvalEnv> = {
  name: 'approval',
  envSchema: approvalEnv,
  migrations: [Gates1764000000001],
  imports: () => [ApprovalModule],
  // The orchestrator owns API keys: the shared resolver asks it on keel.v1.auth.verify (3 s timeout, 10 s cache).
  providers: [NatsPrincipalResolver, { provide: PrincipalResolver, useExisting: NatsPrincipalResolver }],
  openapi: openApiDocument,
};
