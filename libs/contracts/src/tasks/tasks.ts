import { z } from 'zod';

export const TASK_STATUSES = ['queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export const TaskStatusSchema = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
export const isTerminal = (s: TaskStatus): boolean => TERMINAL_STATUSES.includes(s);

/** Body of `POST /v1/tasks` and of a message on `keel.v1.tasks.submit`. */
export const SubmitTaskSchema = z
  .object({
    input: z.string().min(1, 'input must be a non-empty string').max(200_000),
    agent: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'agent must be a lowercase name such as "demo"').optional(),
    conversationId: z.string().min(1).max(200).optional(),
    userId: z.string().min(1).max(200).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
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
}

/** One entry of a task's append-only event log; `seq` is gap-free per task. */
export interface TaskEvent {
  taskId: string;
  seq: number;
  type: string;
  at: string;
  data: Record<string, unknown>;
}
