import type { TaskState } from './checkpoint.repository';

const MAX_ENTRIES = 5_000;

/**
 * The state a replica just checkpointed, kept for the next step it published
 * itself: that step usually comes back to the same replica at once, and
 * reading the task again would cost a query per step. Used only on the first
 * delivery of a `next` item whose previous step matches, so a redelivery, a
 * re-dispatch or a step committed elsewhere always reloads; the checkpoint's
 * fence is the guard either way.
 */
export class TaskStateCache {
  private readonly entries = new Map<string, TaskState>();

  put(state: TaskState): void {
    this.entries.delete(state.id);
    this.entries.set(state.id, state);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The cached state if it is exactly at `step`; removed either way. */
  take(taskId: string, step: number): TaskState | undefined {
    const s = this.entries.get(taskId);
    this.entries.delete(taskId);
    return s && s.step === step ? s : undefined;
  }

  forget(taskId: string): void {
    this.entries.delete(taskId);
  }
}
