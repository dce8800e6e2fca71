import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { z } from 'zod';
import { KeelError, Subjects } from '@keel/contracts';
import { Bus } from '@keel/messaging';

const TTL_MS = 15 * 60_000;

/**
 * Cancellation reaches a running step through a core NATS broadcast that
 * every replica hears; the step checks it at its safe points (before the
 * model call, before each tool call, before its checkpoint). The database
 * status stays the source of truth: a step that misses the broadcast still
 * fails its checkpoint fence and is discarded.
 */
@Injectable()
export class CancellationRegistry implements OnApplicationBootstrap {
  private readonly cancelled = new Map<string, number>();

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  onApplicationBootstrap(): void {
    this.bus.nc.subscribe(Subjects.tasksCancelled, {
      callback: (err, msg) => {
        if (err) return;
        const parsed = z.object({ taskId: z.string() }).safeParse(msg.json());
        if (parsed.success) this.mark(parsed.data.taskId);
      },
    });
  }

  announce(taskId: string): void {
    this.mark(taskId);
    this.bus.notify(Subjects.tasksCancelled, { taskId });
  }

  isCancelled(taskId: string): boolean {
    return this.cancelled.has(taskId);
  }

  /** Throws at a safe point of a cancelled task. */
  checkpoint(taskId: string): void {
    if (this.cancelled.has(taskId)) throw new TaskCancelled(taskId);
  }

  private mark(taskId: string): void {
    const now = Date.now();
    this.cancelled.set(taskId, now + TTL_MS);
    if (this.cancelled.size > 1000) for (const [id, exp] of this.cancelled) if (exp < now) this.cancelled.delete(id);
  }
}

export class TaskCancelled extends KeelError {
  constructor(taskId: string) {
    super('cancelled', `task ${taskId} was cancelled`);
  }
}
