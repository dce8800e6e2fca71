import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Streams } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { gauge } from '@keel/telemetry';

const pending = gauge('keel_queue_pending', 'JetStream messages not yet delivered to a consumer (queue depth)', ['stream', 'consumer']);
const ackPending = gauge('keel_queue_ack_pending', 'JetStream messages delivered and not yet acknowledged (in flight)', ['stream', 'consumer']);
const redelivered = gauge('keel_queue_redelivered', 'JetStream messages currently being redelivered', ['stream', 'consumer']);

const CONSUMERS = [
  { stream: Streams.steps, consumer: 'orchestrator-steps' },
  { stream: Streams.tasks, consumer: 'orchestrator-intake' },
  { stream: Streams.approvals, consumer: 'orchestrator-approvals' },
  { stream: Streams.batches, consumer: 'orchestrator-batches' },
];

/** Queue depth and consumer lag of the orchestrator's JetStream consumers, read from the server every 10 s. */
@Injectable()
export class QueueMetrics implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sample(), 10_000);
    this.timer.unref();
    // The consumers are created by other providers' bootstrap: take the first sample once they exist.
    setTimeout(() => void this.sample(), 1000).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async sample(): Promise<void> {
    for (const c of CONSUMERS) {
      const info = await this.bus.jsm.consumers.info(c.stream, c.consumer).catch(() => null);
      if (!info) continue;
      pending.set(c, info.num_pending);
      ackPending.set(c, info.num_ack_pending);
      redelivered.set(c, info.num_redelivered);
    }
  }
}
