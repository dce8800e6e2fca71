import { Inject, Injectable } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import { Subjects } from '@keel/contracts';
import type { TaskEvent } from '@keel/contracts';
import { Bus } from '@keel/messaging';

export const TERMINAL_EVENTS = new Set(['task.succeeded', 'task.failed', 'task.cancelled', 'task.timed_out']);

/**
 * Live task events. The durable copy is the task_events table (written in the
 * step's checkpoint); after each commit the same events are published on core
 * NATS `keel.v1.tasks.<id>.events` for SSE clients and NATS subscribers. A
 * subscriber that misses one (core NATS is at-most-once) catches up from the
 * table by sequence number.
 */
@Injectable()
export class TaskEventsService {
  constructor(@Inject(Bus) private readonly bus: Bus) {}

  publish(events: TaskEvent[]): void {
    for (const e of events) this.bus.notify(Subjects.taskEvents(e.taskId), e);
  }

  subscribe(taskId: string, onEvent: (e: TaskEvent) => void): Subscription {
    return this.bus.nc.subscribe(Subjects.taskEvents(taskId), {
      callback: (err, msg) => {
        if (!err) onEvent(msg.json<TaskEvent>());
      },
    });
  }
}
