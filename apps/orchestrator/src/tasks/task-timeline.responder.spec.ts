import { KeelError } from '@keel/contracts';
import type { TaskView } from '@keel/contracts';
import type { Bus } from '@keel/messaging';
import type { DataSource } from '@keel/persistence';
import { TaskTimelineResponder } from './task-timeline.responder';
import type { TasksService } from './tasks.service';

const ID = '0b8c6a52-6c1c-4d0e-9f0e-1d2a3b4c5d6e';

describe('TaskTimelineResponder', () => {
  const task = { id: ID, status: 'waiting_approval' } as TaskView;
  const rowsDesc = (n: number) => Array.from({ length: n }, (_, i) => ({ seq: n - i, type: `e${n - i}`, data: {}, at: new Date(1_700_000_000_000 + (n - i)) }));
  const make = (rows: unknown[], found = true) => {
    const query = jest.fn().mockResolvedValue(rows);
    const get = jest.fn().mockImplementation(() => (found ? Promise.resolve(task) : Promise.reject(new KeelError('not_found', 'no task'))));
    const r = new TaskTimelineResponder({} as Bus, { get } as unknown as TasksService, { query } as unknown as DataSource);
    return { r, query, get };
  };

  it('returns the task and its events oldest first', async () => {
    const { r, get, query } = make(rowsDesc(3));
    const t = await r.timeline('acme', ID);
    expect(get).toHaveBeenCalledWith('acme', ID);
    expect(query.mock.calls[0][1]).toEqual([ID, 201]);
    expect(t.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(t.events[0]).toMatchObject({ taskId: ID, type: 'e1', at: new Date(1_700_000_000_001).toISOString() });
    expect(t.truncated).toBe(false);
  });

  it('keeps the newest 200 and says older ones were left out', async () => {
    const { r } = make(rowsDesc(201));
    const t = await r.timeline('acme', ID);
    expect(t.events).toHaveLength(200);
    expect(t.events[0].seq).toBe(2);
    expect(t.events[199].seq).toBe(201);
    expect(t.truncated).toBe(true);
  });

  it('another tenant\'s task is not found, and its events are not read', async () => {
    const { r, query } = make([], false);
    await expect(r.timeline('other', ID)).rejects.toMatchObject({ code: 'not_found' });
    expect(query).not.toHaveBeenCalled();
  });
});
