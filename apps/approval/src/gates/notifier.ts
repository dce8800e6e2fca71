import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Bus } from '@keel/messaging';
import { LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { counter } from '@keel/telemetry';
import { GatesRepository } from './gates.repository';
import type { Notification } from './gates.repository';

const SWEEP_EVERY_MS = 1_000;
/** A claimed row is not due again for this long, so a replica that dies mid-send leaves it to another. */
const LEASE_MS = 30_000;
const WEBHOOK_TIMEOUT_MS = 5_000;

const sentTotal = counter('keel_approval_notifications_total', 'Outbox deliveries (webhook posts, NATS messages), by channel and outcome', ['channel', 'outcome']);

/**
 * Sends the notifications outbox: webhook posts (`KEEL_APPROVAL_WEBHOOK_URL`)
 * and NATS messages about gate transitions. Rows are written in the same
 * transaction as the transition, so nothing is lost when this process dies;
 * sending never blocks the transition. A failure is retried with exponential
 * backoff (1 s, 2 s, 4 s, 8 s, 16 s: 6 attempts for a webhook, then given up
 * with a warning; NATS messages are retried until they go out, at most 16 s apart).
 */
@Injectable()
export class Notifier implements OnApplicationBootstrap, OnModuleDestroy {
  /** Backoff and attempts; tests shorten them. */
  retry = { baseMs: 1_000, maxMs: 16_000, webhookAttempts: 6 };
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  private again = false;

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(GatesRepository) private readonly gates: GatesRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Sends what is due now, without waiting (used right after a transition). */
  kick(): void {
    void this.sweep();
  }

  /** Sends the due rows; a call while a sweep runs makes that sweep go round once more. Returns how many were sent. */
  async sweep(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let sent = 0;
      try {
        do {
          this.again = false;
          for (const n of await this.gates.claimNotifications(20, LEASE_MS)) sent += (await this.deliver(n)) ? 1 : 0;
        } while (this.again);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'could not read the notifications outbox; will retry');
      }
      return sent;
    })();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async deliver(n: Notification): Promise<boolean> {
    try {
      if (n.channel === 'webhook') await this.post(n.target, n.payload);
      else await this.bus.publish(n.target, n.payload, n.msgId ? { msgId: n.msgId } : {});
      await this.gates.notificationSent(n.id);
      sentTotal.inc({ channel: n.channel, outcome: 'sent' });
      return true;
    } catch (err) {
      const message = (err as Error).message;
      const giveUp = n.channel === 'webhook' && n.attempts >= this.retry.webhookAttempts;
      const delay = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** (n.attempts - 1));
      await this.gates.notificationFailed(n.id, message, giveUp ? null : delay).catch(() => undefined);
      sentTotal.inc({ channel: n.channel, outcome: giveUp ? 'failed' : 'retry' });
      const log = { notification: n.id, gate: n.gateId, event: n.event, channel: n.channel, attempt: n.attempts, err: message };
      if (giveUp) this.logger.warn(log, `gave up on a ${n.channel} notification after ${n.attempts} attempts`);
      else this.logger.info({ ...log, retry_in_ms: delay }, `${n.channel} notification failed; will retry`);
      return false;
    }
  }

  private async post(url: string, payload: Record<string, unknown>): Promise<void> {
    const res = await fetch(url, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload), signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS), redirect: 'manual',
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
  }
}
