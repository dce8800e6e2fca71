import type { TaskState } from './checkpoint.repository';
import { TaskStateCache } from './task-state.cache';

const state = (id: string, step: number) => ({ id, step } as TaskState);

describe('TaskStateCache', () => {
  it('hands back a state only for the step it holds, and only once', () => {
    const c = new TaskStateCache();
    c.put(state('a', 3));
    expect(c.take('a', 2)).toBeUndefined();
    c.put(state('a', 3));
    expect(c.take('a', 3)?.step).toBe(3);
    expect(c.take('a', 3)).toBeUndefined();
  });

  it('keeps only the newest state of a task', () => {
    const c = new TaskStateCache();
    c.put(state('a', 1));
    c.put(state('a', 2));
    expect(c.take('a', 1)).toBeUndefined();
  });
});
