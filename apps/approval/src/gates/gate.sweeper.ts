import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { approvalSettings, Subjects } from '@keel/contracts';
import type { Agent, ApprovalDecided } from '@keel/contracts';
import { AGENTS, ENV, LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { counter } from '@keel/telemetry';
import { DecisionPublisher } from './decision.publisher';
import { DecisionSigner } from './decision.signer';
import { GatesRepository } from './gates.repository';
import type { ExpiryPlan, Gate } from './gates.repository';
import { webhookRow } from './notifications';
import { Notifier } from './notifier';

export interface SweeperEnv {
  KEEL_APPROVAL_BASE_URL?: string;
  KEEL_APPROVAL_WEBHOOK_URL?: string;
  KEEL_APPROVAL_SWEEP_MS?: number;
}

const timeouts = counter('keel_approval_timeouts_total', 'Approval gates past their deadline, by what happened', ['outcome']);

export const EXPIRED_REASON = 'approval timed out: nobody decided before the deadline, so the call did not run';

/** The Nats-Msg-Id of an escalation message: one per gate, revision and level. */
export const escalationMsgId = (g: Pick<Gate, 'id' | 'revision' | 'escalationLevel'>): string => `${g.id}:${g.revision}:escalated:${g.escalationLevel}`;

/**
 * Deadlines of approval gates. Every few seconds (`KEEL_APPROVAL_SWEEP_MS`,
 * default 2 s) it takes the pending gates past `expires_at` (row locks with
 * SKIP LOCKED: replicas sweep in parallel without acting twice) and, per the
 * agent's `approvals`, hands each to the next group of its escalation chain
 * (new deadline, audit `gate.escalated_to`, webhook, an `escalated` message
 * for the task's event log) or, with `onTimeout: cancel` or the chain
 * exhausted, expires it (status `expired`, audit `gate.expired`, webhook, and
 * an `expired` message that resumes the task like a rejection).
 */
@Injectable()
export class GateSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    @Inject(GatesRepository) private readonly gates: GatesRepository,
    @Inject(DecisionPublisher) private readonly publisher: DecisionPublisher,
    @Inject(DecisionSigner) private readonly signer: DecisionSigner,
    @Inject(Notifier) private readonly notifier: Notifier,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Inject(ENV) private readonly env: SweeperEnv,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.env.KEEL_APPROVAL_SWEEP_MS ?? 2_000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** One pass; returns the gates it escalated or expired. */
  async sweep(): Promise<Gate[]> {
    if (this.sweeping) return [];
    this.sweeping = true;
    try {
      const done = await this.gates.sweepExpired(50, (g) => this.plan(g));
      for (const { gate, plan } of done) {
        timeouts.inc({ outcome: plan.action === 'escalate' ? 'escalated' : 'expired' });
        this.logger.info({ gate: gate.id, task_id: gate.taskId, level: gate.escalationLevel, group: gate.assignedGroup }, plan.action === 'escalate' ? `approval gate escalated to ${gate.assignedGroup}` : 'approval gate expired');
        if (plan.action === 'expire') {
          // Like a decision: published now, or by the publisher's sweep (published_at outbox).
          await this.publisher.publish(gate).catch((err: Error) => this.logger.warn({ gate: gate.id, err: err.message }, 'could not publish the expiry yet; it will be retried'));
        }
      }
      if (done.length) this.notifier.kick();
      return done.map((d) => d.gate);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'approval deadline sweep failed; will retry');
      return [];
    } finally {
      this.sweeping = false;
    }
  }

  private plan(g: Gate): ExpiryPlan {
    const agent = this.agents.get(g.agent);
    const settings = approvalSettings(agent ?? {});
    const next = settings.onTimeout === 'escalate' ? settings.escalation[g.escalationLevel] : undefined;
    const base = this.env.KEEL_APPROVAL_BASE_URL;
    const hook = this.env.KEEL_APPROVAL_WEBHOOK_URL;
    if (next) {
      return {
        action: 'escalate', level: g.escalationLevel + 1, group: next.group, timeoutMs: next.timeoutMs,
        notify: (u) => {
          const message: ApprovalDecided = {
            kind: 'escalated', gateId: u.id, taskId: u.taskId, tenant: u.tenant, step: u.step, index: u.callIndex, revision: u.revision, argsHash: u.argsHash,
            decision: 'escalated', level: u.escalationLevel, group: next.group, expiresAt: u.expiresAt?.toISOString() ?? '',
            signature: this.signer.sign({ gateId: u.id, revision: u.revision, argsHash: u.argsHash, decision: 'escalated', tenant: u.tenant }),
          };
          return [
            { tenant: u.tenant, gateId: u.id, event: 'gate.escalated', channel: 'nats', target: Subjects.approvalsDecided, msgId: escalationMsgId(u), payload: message },
            ...webhookRow(hook, 'gate.escalated', u, base, { group: next.group }),
          ];
        },
      };
    }
    const reason = g.escalationLevel > 0 ? `${EXPIRED_REASON} (escalation chain exhausted after ${g.assignedGroup ?? `level ${g.escalationLevel}`})` : EXPIRED_REASON;
    return {
      action: 'expire', reason,
      sign: (u) => this.signer.sign({ gateId: u.id, revision: u.revision, argsHash: u.argsHash, decision: 'expired', tenant: u.tenant }),
      notify: (u) => webhookRow(hook, 'gate.expired', u, base, { reason }),
    };
  }
}
