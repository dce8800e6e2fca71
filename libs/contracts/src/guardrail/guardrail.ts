import { z } from 'zod';

export const SCREEN_CHANNELS = ['user', 'tool_output', 'output'] as const;
export const ScreenChannelSchema = z.enum(SCREEN_CHANNELS);
export type ScreenChannel = z.infer<typeof ScreenChannelSchema>;

/** `POST /v1/screen` on the guardrail and `keel.v1.guardrail.screen` take the same body. */
export const ScreenRequestSchema = z.object({
  text: z.string().max(1_000_000),
  channel: ScreenChannelSchema,
  tenant: z.string().optional(),
  taskId: z.string().optional(),
}).strict();
export type ScreenRequest = z.infer<typeof ScreenRequestSchema>;

export const VerdictSchema = z.enum(['allow', 'redact', 'block', 'escalate']);
export type Verdict = z.infer<typeof VerdictSchema>;

export const ScreenResponseSchema = z.object({
  verdict: VerdictSchema,
  categories: z.array(z.string()),
  score: z.number().min(0).max(1),
  redacted: z.string().optional(),
});
export type ScreenResponse = z.infer<typeof ScreenResponseSchema>;
