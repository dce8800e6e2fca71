import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { QueueGroups, Subjects, TaskTimelineRequestSchema, TIMELINE_EVENT_LIMIT } from '@keel/contracts';
import type { TaskEvent, TaskTimeline } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { DataSource } from '@keel/persistence';
import { TasksService } from './tasks.service';

/**
 * `keel.v1.tasks.timeline` (request/reply, queue group `orchestrator`): a task
 * and its newest events, for the approval console. The approval service never
 * reads the orchestrator's tables; it asks here. Tenant-scoped: another
 * tenant's task (or a malformed id) is `not_found`, as over REST.
 */
@Injectable()
export class TaskTimelineResponder implements OnApplicationBootstrap {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(TasksService) private readonly tasks: TasksService,
    @Inject(DataSource) private readonly db: DataSource,
  ) {}

  onApplicationBootstrap(): void {
    this.bus.serve({
      subject: Subjects.tasksTimeline,
      queue: QueueGroups.orchestrator,
      schema: TaskTimelineRequestSchema,
      handler: ({ taskId, tenant }) => this.timeline(tenant, taskId),
    });
  }

  async timeline(tenant: string, taskId: string): Promise<TaskTimeline> {
    const task = await this.tasks.get(tenant, taskId);
    // One more than the limit tells whether older events were left out.
    const rows: { seq: number; type: string; data: Record<string, unknown>; at: Date }[] = await this.db.query(
      'SELECT seq, type, data, at FROM orchestrator.task_events WHERE task_id = $1 ORDER BY seq DESC LIMIT $2',
      [task.id, TIMELINE_EVENT_LIMIT + 1],
    );
    const events: TaskEvent[] = rows.slice(0, TIMELINE_EVENT_LIMIT).reverse()
      .map((r) => ({ taskId: task.id, seq: r.seq, type: r.type, data: r.data, at: new Date(r.at).toISOString() }));
    return { task, events, truncated: rows.length > TIMELINE_EVENT_LIMIT };
  }
}
