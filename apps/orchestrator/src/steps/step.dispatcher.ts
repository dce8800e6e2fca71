import { Inject, Injectable } from '@nestjs/common';
import { stepMsgId, StepWorkSchema, Subjects } from '@keel/contracts';
import type { StepWork } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { contextFromTraceparent } from '@keel/telemetry';

/**
 * Publishes step work items. The Nats-Msg-Id is derived from (task, step), so
 * publishing the same step twice (a retry after a crash between checkpoint and
 * publish) is de-duplicated by JetStream, and the step runner's fence makes a
 * duplicate past the de-dup window harmless. Every step item carries the
 * task's root trace context, so all steps of a task sit in one trace.
 */
@Injectable()
export class StepDispatcher {
  constructor(@Inject(Bus) private readonly bus: Bus) {}

  async dispatch(taskId: string, step: number, reason: StepWork['reason'], traceparent: string | null, suffix = '', extra: Pick<StepWork, 'approved'> = {}): Promise<void> {
    // Validated on the way out too: a bug here must fail loudly, not feed the dead-letter store.
    const work: StepWork = StepWorkSchema.parse({ taskId, step, reason, ...extra });
    await this.bus.publish(Subjects.stepsRun, work, { msgId: stepMsgId(work, suffix), ctx: contextFromTraceparent(traceparent) });
  }
}
