import { Inject, Injectable } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import type { CompleteRequest } from '@keel/contracts';
import { ENV, LOGGER } from '@keel/service-kit';
import { counter } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { notifyWebhook } from '../budgets/budget-alert.webhook';
import { TokenRateDetector } from './token-rate.detector';
import type { Trip } from './token-rate.detector';

const trips = counter('keel_anomaly_trips_total', 'Users or tasks circuit-broken for a token rate far above their baseline', ['kind']);
const refused = counter('keel_anomaly_refusals_total', 'Model calls refused while their user or task was circuit-broken', ['kind']);

export interface AnomalyEnv {
  KEEL_ANOMALY_FACTOR: number;
  KEEL_ANOMALY_MIN_TOKENS_PER_MIN: number;
  KEEL_ANOMALY_COOLDOWN_MS: number;
  KEEL_BUDGET_WEBHOOK_URL?: string;
}

/** The anomaly rule around each model call: refuse while tripped; record tokens after; alert on a new trip. */
@Injectable()
export class AnomalyGuard {
  private readonly detector: TokenRateDetector;

  constructor(@Inject(ENV) private readonly env: AnomalyEnv, @Inject(LOGGER) private readonly logger: Logger) {
    this.detector = new TokenRateDetector({
      factor: env.KEEL_ANOMALY_FACTOR, minTokensPerWindow: env.KEEL_ANOMALY_MIN_TOKENS_PER_MIN,
      windowMs: 60_000, halfLifeMs: 3_600_000, cooldownMs: env.KEEL_ANOMALY_COOLDOWN_MS,
    });
  }

  check(req: CompleteRequest): void {
    const trip = this.detector.blocked(this.keys(req).map((k) => k.key));
    if (!trip) return;
    const kind = trip.key.split(':')[0];
    refused.inc({ kind });
    throw new KeelError('rate_limited', `${kind} ${trip.key.slice(kind.length + 1)} is paused until ${new Date(trip.until).toISOString()}: its token rate (${trip.rate}/min) was far above its baseline (${Math.round(trip.baseline)}/min)`, {
      retryAfterMs: Math.max(0, trip.until - Date.now()), details: { anomaly: trip },
    });
  }

  record(req: CompleteRequest, tokens: number): void {
    for (const { key, baseline } of this.keys(req)) {
      const trip = this.detector.record(key, tokens, baseline);
      if (trip) this.alert(trip);
    }
  }

  private keys(req: CompleteRequest): { key: string; baseline: string }[] {
    const keys = [{ key: `task:${req.taskId}`, baseline: `agent:${req.tenant}:${req.agent}` }];
    if (req.userId) keys.push({ key: `user:${req.tenant}:${req.userId}`, baseline: `user:${req.tenant}:${req.userId}` });
    return keys;
  }

  private alert(trip: Trip): void {
    const kind = trip.key.split(':')[0];
    trips.inc({ kind });
    this.logger.warn({ anomaly: trip }, `ALERT token rate anomaly: ${trip.key} at ${trip.rate}/min vs baseline ${Math.round(trip.baseline)}/min; paused`);
    notifyWebhook(this.env.KEEL_BUDGET_WEBHOOK_URL, { text: `Keel anomaly: ${trip.key} spent ${trip.rate} tokens in a minute (baseline ${Math.round(trip.baseline)}); paused until ${new Date(trip.until).toISOString()}.`, anomaly: trip },
      (err) => this.logger.warn({ err }, 'anomaly webhook failed'));
  }
}
