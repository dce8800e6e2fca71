import { z } from 'zod';
import { TaskModeSchema, TaskStatusSchema } from './tasks';
import type { TaskEvent, TaskView } from './tasks';

/** How many of a task's newest events `keel.v1.tasks.timeline` returns. */
export const TIMELINE_EVENT_LIMIT = 200;

/** Request on `keel.v1.tasks.timeline`: one task of one tenant (another tenant's task is `not_found`). */
export const TaskTimelineRequestSchema = z.object({
  taskId: z.string().min(1).max(100),
  tenant: z.string().min(1).max(200),
}).strict();
export type TaskTimelineRequest = z.infer<typeof TaskTimelineRequestSchema>;

/** `TaskView` as a schema (the reply is validated by the asking service); unknown fields pass, so the view can grow. */
export const TaskViewSchema = z.looseObject({
  id: z.string(),
  status: TaskStatusSchema,
  agent: z.string(),
  mode: TaskModeSchema,
  input: z.string(),
  output: z.string().nullable(),
  error: z.looseObject({ code: z.string(), message: z.string(), details: z.unknown().optional() }).nullable(),
  steps: z.number(),
  usage: z.object({ inputTokens: z.number(), outputTokens: z.number(), costUsd: z.number() }),
  traceId: z.string().nullable(),
  conversationId: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
});

export const TaskEventSchema = z.object({
  taskId: z.string(),
  seq: z.number().int(),
  type: z.string(),
  at: z.string(),
  data: z.record(z.string(), z.unknown()),
});

/** Reply: the task and its newest events (at most `TIMELINE_EVENT_LIMIT`), oldest first; `truncated` if older ones were left out. */
export interface TaskTimeline {
  task: TaskView;
  events: TaskEvent[];
  truncated: boolean;
}
export const TaskTimelineSchema: z.ZodType<TaskTimeline> = z.object({
  task: TaskViewSchema,
  events: z.array(TaskEventSchema),
  truncated: z.boolean(),
});
