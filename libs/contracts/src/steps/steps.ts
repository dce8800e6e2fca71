import { z } from 'zod';

/**
 * A step work item on `keel.v1.steps.run`. `step` is the 1-based step to run;
 * the Nats-Msg-Id is `${taskId}:${step}` (plus a suffix when a step is
 * re-dispatched on purpose, e.g. after an approval), so a publish repeated
 * after a crash is de-duplicated by JetStream.
 */
export const StepWorkSchema = z.object({
  taskId: z.uuid(),
  step: z.number().int().positive(),
  reason: z.enum(['start', 'next', 'resume', 'redispatch']).default('next'),
  /**
   * A resume after a person approved a gate carries the signed approval; the
   * step verifies it (HMAC, arguments) and runs the call without asking the
   * approval service again. Without it (or if it does not verify) the step asks.
   */
  approved: z.object({
    gateId: z.string(), index: z.number().int().nonnegative(), revision: z.number().int().nonnegative(),
    argsHash: z.string(), signature: z.string(), tenant: z.string(),
  }).strict().optional(),
}).strict();
export type StepWork = z.infer<typeof StepWorkSchema>;

export const stepMsgId = (w: { taskId: string; step: number; reason?: string }, suffix = ''): string =>
  `${w.taskId}:${w.step}${w.reason === 'resume' || w.reason === 'redispatch' ? `:${w.reason}${suffix}` : ''}`;

/** The msg id suffix of the resume after a gate's decision (revision > 0 after a re-open), shared by every publisher of it. */
export const gateResumeSuffix = (gateId: string, revision: number): string => (revision === 0 ? `:${gateId}` : `:${gateId}:${revision}`);
