import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { StepDispatcher } from '../steps/step.dispatcher';
import { TaskRepository } from './task.repository';

const STRANDED_AFTER_MS = 15_000;
const SWEEP_EVERY_MS = 10_000;

/**
 * A task is stored before its first step is published; if NATS was down in
 * between, the task would sit `queued` forever. This sweep re-publishes step 1
 * for such tasks (de-duplicated by Nats-Msg-Id when the first publish did
 * land). Running it on every replica is safe for the same reason.
 */
@Injectable()
export class StrandedTaskSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(TaskRepository) private readonly tasks: TaskRepository,
    @Inject(StepDispatcher) private readonly dispatcher: StepDispatcher,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep().catch((err: unknown) => this.logger.warn({ err }, 'stranded-task sweep failed')), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<number> {
    const stranded = await this.tasks.strandedQueued(STRANDED_AFTER_MS);
    for (const t of stranded) {
      await this.dispatcher.dispatch(t.id, 1, 'start', t.traceparent);
      await this.tasks.touch(t.id);
    }
    if (stranded.length) this.logger.warn({ count: stranded.length }, 're-dispatched queued tasks that never started');
    return stranded.length;
  }
}
