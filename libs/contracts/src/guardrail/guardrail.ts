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
  /** Per-request verdict thresholds on the injection score (defaults: block 0.8, escalate 0.5), e.g. per agent. */
  thresholds: z.object({
    block: z.number().min(0).max(1).optional(),
    escalate: z.number().min(0).max(1).optional(),
  }).strict().optional(),
  /** Also redact sensitive identifiers (ARNs, AWS account ids, bucket and store hostnames, OAuth client ids,
   * usernames, public keys). Default false: they are reported (`identifier:<type>`) but left in the text. */
  redactIdentifiers: z.boolean().optional(),
}).strict();
export type ScreenRequest = z.infer<typeof ScreenRequestSchema>;

export const VerdictSchema = z.enum(['allow', 'redact', 'block', 'escalate']);
export type Verdict = z.infer<typeof VerdictSchema>;

export const ScreenResponseSchema = z.object({
  verdict: VerdictSchema,
  categories: z.array(z.string()),
  score: z.number().min(0).max(1),
  redacted: z.string().optional(),
  /** Score per category, e.g. `{ prompt_injection: 0.93, secret: 1 }` (0..1; categories with no signal omitted). */
  scores: z.record(z.string(), z.number().min(0).max(1)).optional(),
  /** Human-readable reasons, e.g. `rule en.ignore_previous`, `classifier p=0.97 ≥ 0.62`. */
  reasons: z.array(z.string()).optional(),
});
export type ScreenResponse = z.infer<typeof ScreenResponseSchema>;
