import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * `waiting_approval`: a tool call waits for a human; `waiting_model`: a batch-mode
 * task's model turn waits in a provider batch. Neither holds a worker.
 */
export const TASK_STATUSES = ['queued', 'running', 'waiting_approval', 'waiting_model', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export const TaskStatusSchema = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
export const isTerminal = (s: TaskStatus): boolean => TERMINAL_STATUSES.includes(s);
/** Statuses a step may still move on from. */
export const ACTIVE_STATUSES: readonly TaskStatus[] = ['queued', 'running', 'waiting_approval', 'waiting_model'];

/**
 * `realtime` (default): each model turn is a live call. `batch`: model turns go
 * through the provider's batch API at its lower price (OpenAI: half), taking
 * minutes to hours; for work nobody waits on (nightly reports, backfills).
 */
export const TASK_MODES = ['realtime', 'batch'] as const;
export const TaskModeSchema = z.enum(TASK_MODES);
export type TaskMode = z.infer<typeof TaskModeSchema>;

/** Body of `POST /v1/tasks` and of a message on `keel.v1.tasks.submit`. */
export const SubmitTaskSchema = z
  .object({
    input: z.string().min(1, 'input must be a non-empty string').max(200_000),
    agent: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'agent must be a lowercase name such as "demo"').optional(),
    conversationId: z.string().min(1).max(200).optional(),
    userId: z.string().min(1).max(200).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    mode: TaskModeSchema.optional(),
  })
  .strict();
export type SubmitTask = z.infer<typeof SubmitTaskSchema>;

export const FeedbackSchema = z.object({
  score: z.union([z.literal(1), z.literal(-1)]),
  comment: z.string().max(10_000).optional(),
}).strict();
export type Feedback = z.infer<typeof FeedbackSchema>;

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** What `GET /v1/tasks/{id}` returns. */
export interface TaskView {
  id: string;
  status: TaskStatus;
  agent: string;
  mode: TaskMode;
  input: string;
  output: string | null;
  error: { code: string; message: string; details?: unknown } | null;
  steps: number;
  usage: Usage;
  traceId: string | null;
  conversationId: string | null;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** The agent's A/B experiment and the variant this task was assigned (docs/experiments.md); null outside an experiment. */
  experiment?: string | null;
  variant?: string | null;
}

/** One entry of a task's append-only event log; `seq` is gap-free per task. */
export interface TaskEvent {
  taskId: string;
  seq: number;
  type: string;
  at: string;
  data: Record<string, unknown>;
}

/**
 * The task id for a submission with an idempotency key (the REST
 * Idempotency-Key or the NATS Nats-Msg-Id): a name-based UUID (v5 layout over
 * SHA-1), so a NATS submitter knows the id, and the events subject
 * `keel.v1.tasks.<id>.events`, without a reply.
 */
export function taskIdFor(tenant: string, idempotencyKey: string): string {
  const h = createHash('sha1').update(`keel:v1:${tenant}:${idempotencyKey}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
