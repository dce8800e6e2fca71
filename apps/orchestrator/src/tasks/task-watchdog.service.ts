import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from '@keel/persistence';
import { ENV, LOGGER } from '@keel/service-kit';
import { counter, gauge } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import type { TaskEvent } from '@keel/contracts';
import { TaskEventsService } from '../events/task-events.service';
import { StepDispatcher } from '../steps/step.dispatcher';
import { PeersClient } from '../peers/peers.client';

const stalled = counter('keel_tasks_stalled_total', 'Running tasks whose heartbeat stopped and that were re-dispatched (alert on any increase)');
const stalledNow = gauge('keel_tasks_stalled', 'Tasks found stalled by the last watchdog sweep');
const redispatched = counter('keel_tasks_redispatched_total', 'Step work items re-published by the watchdog, by reason', ['reason']);
const overdue = counter('keel_tasks_timed_out_total', 'Tasks ended by their task (session) time limit');

export interface WatchdogEnv {
  KEEL_STALL_AFTER_MS: number;
  KEEL_WATCHDOG_INTERVAL_MS: number;
}

/**
 * Keeps every task moving toward a terminal status, whatever got lost:
 *  - stranded: stored but its first step never reached JetStream (NATS down at
 *    submit) → step 1 re-published;
 *  - stalled: `running` with no checkpoint or heartbeat for KEEL_STALL_AFTER_MS
 *    (30 s) → `task.stalled` event, alert metric, step re-dispatched;
 *  - overdue: past its task deadline in any non-terminal status → `timed_out`.
 * Every replica sweeps; re-dispatch ids are derived from the stall so two
 * replicas' publishes de-duplicate, and each update is conditional.
 */
@Injectable()
export class TaskWatchdog implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(StepDispatcher) private readonly dispatcher: StepDispatcher,
    @Inject(TaskEventsService) private readonly events: TaskEventsService,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ENV) private readonly env: WatchdogEnv,
    @Inject(PeersClient) private readonly peers: PeersClient,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep().catch((err: unknown) => this.logger.warn({ err }, 'watchdog sweep failed')), this.env.KEEL_WATCHDOG_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<{ stranded: number; stalled: number; timedOut: number }> {
    const timedOut = await this.timeOutOverdue();
    const strandedCount = await this.redispatchStranded();
    const stalledCount = await this.redispatchStalled();
    stalledNow.set(stalledCount);
    return { stranded: strandedCount, stalled: stalledCount, timedOut };
  }

  private async timeOutOverdue(): Promise<number> {
    const rows: { id: string; tenant: string; events: TaskEvent[] }[] = await this.db.query(
      `WITH t AS (
         UPDATE orchestrator.tasks SET status = 'timed_out', finished_at = now(), updated_at = now(), pending = NULL, event_seq = event_seq + 1,
                error = jsonb_build_object('code', 'timeout', 'message', 'the task exceeded its time limit')
          WHERE status IN ('queued','running','waiting_approval','waiting_model') AND deadline_at < now()
          RETURNING id, tenant, event_seq, step
       ), e AS (
         INSERT INTO orchestrator.task_events (task_id, seq, type, data)
         SELECT id, event_seq, 'task.timed_out', jsonb_build_object('step', step, 'error', jsonb_build_object('code', 'timeout', 'message', 'the task exceeded its time limit'))
           FROM t RETURNING task_id, seq, type, data, at
       )
       SELECT e.task_id AS id, t.tenant, json_agg(json_build_object('taskId', e.task_id, 'seq', e.seq, 'type', e.type, 'data', e.data, 'at', e.at)) AS events
         FROM e JOIN t ON t.id = e.task_id GROUP BY e.task_id, t.tenant`,
    );
    for (const r of rows) {
      this.events.publish(r.events);
      // A task that timed out waiting for a person: its gates leave the approvers' list.
      void this.peers.withdrawApprovals({ taskId: r.id, tenant: r.tenant, reason: 'timed_out' })
        .catch((err: unknown) => this.logger.warn({ err, task_id: r.id }, 'could not withdraw the timed-out task\'s approval gates; they expire at their deadline'));
    }
    if (rows.length) {
      overdue.inc(rows.length);
      this.logger.warn({ count: rows.length }, 'tasks timed out by their deadline');
    }
    return rows.length;
  }

  private async redispatchStranded(): Promise<number> {
    // A CTE, not a bare UPDATE … RETURNING: TypeORM returns [rows, count] for the latter.
    const rows: { id: string; traceparent: string | null }[] = await this.db.query(
      `WITH t AS (
         UPDATE orchestrator.tasks SET updated_at = now()
          WHERE status = 'queued' AND step = 0 AND updated_at < now() - ($1::int * interval '1 millisecond')
          RETURNING id, traceparent
       ) SELECT id, traceparent FROM t`,
      [Math.min(15_000, this.env.KEEL_STALL_AFTER_MS)],
    );
    for (const t of rows) await this.dispatcher.dispatch(t.id, 1, 'start', t.traceparent);
    if (rows.length) {
      redispatched.inc({ reason: 'stranded' }, rows.length);
      this.logger.warn({ count: rows.length }, 're-dispatched queued tasks that never started');
    }
    return rows.length;
  }

  private async redispatchStalled(): Promise<number> {
    // The old updated_at is the stall's identity: every replica that sees this stall publishes the same msg id.
    const rows: { id: string; step: number; traceparent: string | null; stalled_since: string; events: TaskEvent[] }[] = await this.db.query(
      `WITH s AS (
         SELECT id, updated_at AS stalled_since FROM orchestrator.tasks
          WHERE status = 'running' AND updated_at < now() - ($1::int * interval '1 millisecond')
          ORDER BY updated_at LIMIT 100 FOR UPDATE SKIP LOCKED
       ), t AS (
         UPDATE orchestrator.tasks k SET updated_at = now(), event_seq = event_seq + 1 FROM s WHERE k.id = s.id
         RETURNING k.id, k.step, k.traceparent, k.event_seq, (extract(epoch from s.stalled_since) * 1000)::bigint::text AS stalled_since
       ), e AS (
         INSERT INTO orchestrator.task_events (task_id, seq, type, data)
         SELECT id, event_seq, 'task.stalled', jsonb_build_object('step', step + 1, 'silentForMs', $1::int, 'action', 'redispatch') FROM t
         RETURNING task_id, seq, type, data, at
       )
       SELECT t.id, t.step, t.traceparent, t.stalled_since,
              (SELECT json_agg(json_build_object('taskId', task_id, 'seq', seq, 'type', type, 'data', data, 'at', at)) FROM e WHERE e.task_id = t.id) AS events
         FROM t`,
      [this.env.KEEL_STALL_AFTER_MS],
    );
    for (const t of rows) {
      this.events.publish(t.events ?? []);
      await this.dispatcher.dispatch(t.id, t.step + 1, 'redispatch', t.traceparent, `:${t.stalled_since}`);
      this.logger.warn({ task_id: t.id, step: t.step + 1 }, 'ALERT task stalled: no heartbeat; re-dispatched');
    }
    if (rows.length) {
      stalled.inc(rows.length);
      redispatched.inc({ reason: 'stalled' }, rows.length);
    }
    return rows.length;
  }
}
