import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { Headers, SubmitTaskSchema } from '@keel/contracts';
import type { SubmitTask } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import type { DeliveryContext } from '@keel/messaging';
import { TasksService } from './tasks.service';

/**
 * NATS intake: `keel.v1.tasks.submit` on JetStream. The publisher's
 * Nats-Msg-Id de-duplicates within the stream's window and is also stored as
 * the task's idempotency key, so a resubmission after the window still finds
 * the same task. A malformed message is dead-lettered with its validation
 * error by the messaging lib. The tenant comes from the `Keel-Tenant` header
 * (NATS permissions decide who may publish here; see docs/security.md).
 */
@Injectable()
export class TasksMessageController implements OnApplicationBootstrap {
  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(TasksService) private readonly tasks: TasksService) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.consume({
      stream: STREAMS.tasks,
      durable: 'orchestrator-intake',
      schema: SubmitTaskSchema,
      handler: (body, ctx) => this.handle(body, ctx),
    });
  }

  private async handle(body: SubmitTask, ctx: DeliveryContext): Promise<void> {
    const tenant = ctx.headers?.get(Headers.tenant) || 'default';
    const msgId = ctx.headers?.get(Headers.msgId) || `nats-seq-${ctx.streamSeq}`;
    await this.tasks.submit(body, { tenant, source: 'nats', idempotencyKey: msgId });
  }
}
