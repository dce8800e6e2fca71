import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { BatchItemSettledSchema, KeelError } from '@keel/contracts';
import type { BatchItemSettled } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import { LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { CheckpointRepository } from '../checkpoints/checkpoint.repository';
import { StepDispatcher } from '../steps/step.dispatcher';

/**
 * The router settled a batched model turn (`keel.v1.router.batch.settled`,
 * JetStream): resume the parked step. The step runs again from its checkpoint,
 * asks `router.batch.submit` again and now gets the answer (or the failure,
 * and falls back to a realtime call).
 */
@Injectable()
export class BatchSettledConsumer implements OnApplicationBootstrap {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CheckpointRepository) private readonly checkpoints: CheckpointRepository,
    @Inject(StepDispatcher) private readonly dispatcher: StepDispatcher,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.consume({
      stream: STREAMS.batches,
      durable: 'orchestrator-batches',
      schema: BatchItemSettledSchema,
      handler: (s) => this.onSettled(s),
    });
  }

  private async onSettled(s: BatchItemSettled): Promise<void> {
    const state = await this.checkpoints.head(s.taskId);
    if (state && state.tenant === s.tenant && state.status === 'running' && state.step === s.step - 1) {
      // The step that queued the turn has not committed its park yet: try again shortly.
      throw new KeelError('unavailable', `task ${s.taskId} has not parked step ${s.step} yet`, { retryable: true, retryAfterMs: 500 });
    }
    if (!state || state.tenant !== s.tenant || state.status !== 'waiting_model' || state.step !== s.step - 1) {
      this.logger.info({ task_id: s.taskId, item: s.itemId }, 'batch result for a task that no longer waits on it; ignoring');
      return;
    }
    await this.dispatcher.dispatch(s.taskId, s.step, 'resume', state.traceparent, ':batch');
  }
}
