import { randomUUID } from 'node:crypto';
import { ApprovalWithdrawRequestSchema, StepWorkSchema, Subjects } from '@keel/contracts';
import type { ApprovalWithdrawRequest, StepWork } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import { createLogger } from '@keel/telemetry';
import { createTestDatabase, startNats, waitFor } from '@keel/testing';
import type { TestDatabase, TestNats } from '@keel/testing';
import { TaskEventsService } from '../events/task-events.service';
import { ORCHESTRATOR_MIGRATIONS } from '../migrations';
import { PeersClient } from '../peers/peers.client';
import { StepDispatcher } from '../steps/step.dispatcher';
import { TaskWatchdog } from './task-watchdog.service';

describe('TaskWatchdog on real Postgres and NATS', () => {
  let nats: TestNats;
  let pg: TestDatabase;
  let db: DataSource;
  let bus: Bus;
  let watchdog: TaskWatchdog;
  const published: StepWork[] = [];
  const withdrawals: ApprovalWithdrawRequest[] = [];
  const logger = createLogger('test', { level: 'silent' });

  const insert = async (status: string, step: number, updatedAgoMs: number, deadlineInMs = 600_000) => {
    const id = randomUUID();
    await db.query(
      `INSERT INTO orchestrator.tasks (id, tenant, agent, status, source, input, step, event_seq, updated_at, deadline_at)
       VALUES ($1, 'default', 'demo', $2, 'rest', 'x', $3, 1, now() - ($4::int * interval '1 millisecond'), now() + ($5::int * interval '1 millisecond'))`,
      [id, status, step, updatedAgoMs, deadlineInMs],
    );
    return id;
  };
  const eventTypes = async (id: string) => {
    const rows: { type: string }[] = await db.query('SELECT type FROM orchestrator.task_events WHERE task_id = $1 ORDER BY seq', [id]);
    return rows.map((r) => r.type);
  };

  beforeAll(async () => {
    nats = await startNats();
    pg = await createTestDatabase();
    db = await openDatabase({ url: pg.url, schema: 'orchestrator', migrations: ORCHESTRATOR_MIGRATIONS });
    await migrate(db, 'orchestrator');
    bus = await Bus.connect({ url: nats.url, service: 'test', logger });
    await bus.consume({ stream: STREAMS.steps, durable: 'probe', schema: StepWorkSchema, handler: async (w) => { published.push(w); } });
    // Stands in for the approval service: records which tasks' gates the watchdog asks to withdraw.
    bus.serve({ subject: Subjects.approvalsWithdraw, queue: 'approval', schema: ApprovalWithdrawRequestSchema, handler: async (req) => {
      withdrawals.push(req);
      return { withdrawn: 1 };
    } });
    await bus.nc.flush();
    watchdog = new TaskWatchdog(db, new StepDispatcher(bus), new TaskEventsService(bus), logger, { KEEL_STALL_AFTER_MS: 30_000, KEEL_WATCHDOG_INTERVAL_MS: 60_000 }, new PeersClient(bus));
  });
  afterAll(async () => {
    await bus.close(1000);
    await db.destroy();
    await pg.drop();
    await nats.stop();
  });

  it('re-dispatches stranded and stalled tasks once, times out overdue ones, and leaves healthy ones alone', async () => {
    const stranded = await insert('queued', 0, 20_000);
    const stalled = await insert('running', 2, 60_000);
    const overdue = await insert('waiting_approval', 1, 1000, -1000);
    const healthy = await insert('running', 3, 1000);
    const fresh = await insert('queued', 0, 100);

    expect(await watchdog.sweep()).toEqual({ stranded: 1, stalled: 1, timedOut: 1 });
    await waitFor('two work items', () => published.length === 2);
    expect(published).toEqual(expect.arrayContaining([
      { taskId: stranded, step: 1, reason: 'start' },
      { taskId: stalled, step: 3, reason: 'redispatch' },
    ]));
    expect(await eventTypes(stalled)).toEqual(['task.stalled']);
    expect(await eventTypes(overdue)).toEqual(['task.timed_out']);
    const [row] = await db.query('SELECT status, error FROM orchestrator.tasks WHERE id = $1', [overdue]);
    expect(row).toMatchObject({ status: 'timed_out', error: { code: 'timeout' } });
    expect(await eventTypes(healthy)).toEqual([]);
    expect(await eventTypes(fresh)).toEqual([]);
    // The overdue task waited for a person: its gates are withdrawn; no other task's are.
    await waitFor('the withdraw request', () => withdrawals.length === 1);
    expect(withdrawals).toEqual([{ taskId: overdue, tenant: 'default', reason: 'timed_out' }]);

    // The sweep touched what it handled: a second sweep right after does nothing.
    expect(await watchdog.sweep()).toEqual({ stranded: 0, stalled: 0, timedOut: 0 });
    await new Promise((r) => setTimeout(r, 200));
    expect(published).toHaveLength(2);
  });
});
