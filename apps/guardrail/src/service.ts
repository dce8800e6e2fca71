import { z } from 'zod';
import { portSchema } from '@keel/config';
import { NatsPrincipalResolver, PrincipalResolver } from '@keel/service-kit';
import type { ServiceDefinition } from '@keel/service-kit';
import { GuardrailModule } from './guardrail.module';

export const guardrailEnv = z.object({ PORT: portSchema(8083) });

export const guardrailService: ServiceDefinition<typeof guardrailEnv> = {
  name: 'guardrail',
  envSchema: guardrailEnv,
  // Screening audit and policy tables arrive with the guardrail issue.
  migrations: [],
  imports: () => [GuardrailModule],
  providers: [NatsPrincipalResolver, { provide: PrincipalResolver, useExisting: NatsPrincipalResolver }],
  openapi: {
    openapi: '3.1.0',
    info: { title: 'Keel guardrail API', version: '1.0.0' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/v1/screen': {
        post: {
          summary: 'Screen a text as the orchestrator would',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['text', 'channel'],
                  properties: {
                    text: { type: 'string' },
                    channel: { enum: ['user', 'tool_output', 'output'] },
                    redactIdentifiers: { type: 'boolean', description: 'also cut sensitive identifiers (ARNs, account ids, buckets, OAuth client ids); by default they are only reported' },
                    thresholds: { type: 'object', description: 'injection-score thresholds replacing the defaults (block 0.8, escalate 0.5)', properties: { block: { type: 'number', minimum: 0, maximum: 1 }, escalate: { type: 'number', minimum: 0, maximum: 1 } }, additionalProperties: false },
                  },
                },
              },
            },
          },
          responses: { '200': { description: '{verdict, categories, score, redacted?, scores?: {category: score}, reasons?: string[]}' }, '400': { description: 'invalid request' }, '401': { description: 'no or bad API key' } },
        },
      },
    },
  },
};
