import { Inject, Injectable, Optional } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { Headers, KeelError, SubmitTaskSchema } from '@keel/contracts';
import type { SubmitTask } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import type { DeliveryContext } from '@keel/messaging';
import { isUnstorableInput } from '@keel/service-kit';
import { IntakeThrottle, RateLimiter } from '@keel/service-kit';
import { TasksService } from './tasks.service';

/**
 * NATS intake: `keel.v1.tasks.submit` on JetStream. The publisher's
 * Nats-Msg-Id de-duplicates within the stream's window and is also stored as
 * the task's idempotency key, so a resubmission after the window still finds
 * the same task. A malformed message is dead-lettered with its validation
 * error by the messaging lib. The tenant comes from the `Keel-Tenant` header
 * (NATS permissions decide who may publish here; see docs/security.md).
 * Over the tenant's task-submission (or the user's) rate limit, a message is
 * handed back with a delay, not dropped nor dead-lettered (docs/rate-limits.md).
 */
@Injectable()
export class TasksMessageController implements OnApplicationBootstrap {
  private readonly throttle?: IntakeThrottle;

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(TasksService) private readonly tasks: TasksService,
    @Optional() @Inject(RateLimiter) limiter?: RateLimiter,
  ) {
    this.throttle = limiter?.enabled ? new IntakeThrottle(limiter) : undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.consume({
      stream: STREAMS.tasks,
      durable: 'orchestrator-intake',
      schema: SubmitTaskSchema,
      deferrable: true,
      handler: (body, ctx) => this.handle(body, ctx),
    });
  }

  private async handle(body: SubmitTask, ctx: DeliveryContext): Promise<void> {
    const tenant = ctx.headers?.get(Headers.tenant) || 'default';
    const msgId = ctx.headers?.get(Headers.msgId) || `nats-seq-${ctx.streamSeq}`;
    const deferred = this.throttle?.admit(tenant, body.userId, ctx.streamSeq);
    if (deferred) throw deferred.error; // rate_limited: nak'ed with its delay by the bus
    try {
      await this.tasks.submit(body, { tenant, source: 'nats', idempotencyKey: msgId });
    } catch (err) {
      // A value Postgres cannot store (a NUL in the input) fails on every redelivery: dead-letter it at once, as REST answers 400.
      if (isUnstorableInput(err)) throw new KeelError('invalid_request', 'the task holds a value the database cannot store (a NUL character, an unpaired surrogate, or nesting too deep)');
      throw err;
    }
  }
}
