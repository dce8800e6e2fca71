import { z } from 'zod';

/** `too_large`: the payload was above KEEL_MAX_MESSAGE_BYTES and was not parsed. */
export const DEAD_LETTER_REASONS = ['validation_error', 'max_deliveries', 'terminal_error', 'too_large'] as const;

/** What a dead letter on `keel.v1.dlq.<service>` holds: enough to understand and replay it. */
export const DeadLetterSchema = z.object({
  id: z.string(),
  service: z.string(),
  subject: z.string(),
  reason: z.enum(DEAD_LETTER_REASONS),
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  headers: z.record(z.string(), z.array(z.string())),
  /** The original payload: utf8 text when it was valid UTF-8, else base64. */
  data: z.string(),
  encoding: z.enum(['utf8', 'base64']),
  size: z.number().int().nonnegative(),
  truncated: z.boolean(),
  stream: z.string().optional(),
  streamSeq: z.number().int().optional(),
  consumer: z.string().optional(),
  deliveries: z.number().int().optional(),
  at: z.string(),
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;
