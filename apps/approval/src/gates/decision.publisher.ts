import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { gateResumeSuffix, stepMsgId, Subjects } from '@keel/contracts';
import type { ApprovalDecided, StepWork } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import { LOGGER } from '@keel/service-kit';
import { contextFromTraceparent } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { GatesRepository } from './gates.repository';
import type { Gate } from './gates.repository';

const SWEEP_EVERY_MS = 5_000;
/** Leave the request that made the decision time to publish it itself. */
const SWEEP_GRACE_MS = 5_000;

/** The Nats-Msg-Id of a decision: the gate id, plus the revision once a gate was re-opened (else the stream would drop it as a duplicate). */
export const decisionMsgId = (g: Pick<Gate, 'id' | 'revision'>): string => (g.revision === 0 ? g.id : `${g.id}:${g.revision}`);

/**
 * Publishes `keel.v1.approvals.decided` for a decided or expired approval gate (signed). The
 * decision is committed first; a publish that fails (NATS away) is retried
 * by the sweep, so a waiting task always hears about its decision.
 */
@Injectable()
export class DecisionPublisher implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(GatesRepository) private readonly gates: GatesRepository,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.ensureStream(STREAMS.approvals);
    await this.bus.ensureStream(STREAMS.steps);
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async publish(g: Gate): Promise<void> {
    if (g.kind !== 'approve' || (g.status !== 'approved' && g.status !== 'rejected' && g.status !== 'expired')) return;
    const decision = g.status === 'approved' ? 'approve' : g.status === 'rejected' ? 'reject' : 'expired';
    // The stored signature goes out as it is: the orchestrator verifies it. A row without one was not decided
    // through this service (or before signatures existed): it is never signed after the fact.
    const signature = g.signature;
    if (!signature) {
      this.logger.error({ gate: g.id, task_id: g.taskId, status: g.status }, 'a decided gate has no signature; not published (the task keeps waiting until it times out)');
      await this.gates.audit({ tenant: g.tenant, actor: 'system', action: 'decision.signature_invalid', gateId: g.id, details: { status: g.status, revision: g.revision, argsHash: g.argsHash, reason: 'unsigned decision, not published' } });
      await this.gates.markPublished(g.id, g.revision);
      return;
    }
    const base = { gateId: g.id, taskId: g.taskId, tenant: g.tenant, step: g.step, index: g.callIndex, revision: g.revision, argsHash: g.argsHash, signature };
    const payload: ApprovalDecided = decision === 'expired'
      ? { kind: 'expired', ...base, decision, reason: g.comment ?? 'approval timed out' }
      : { kind: 'decided', ...base, decision, decidedBy: g.decidedBy ?? 'unknown', ...(g.comment ? { comment: g.comment } : {}) };
    if (payload.kind === 'decided' && payload.decision === 'approve') await this.publishResume(g, signature);
    await this.bus.publish(Subjects.approvalsDecided, payload, { msgId: decisionMsgId(g) });
    await this.gates.markPublished(g.id, g.revision);
  }

  /**
   * The fast path of an approval: the resume work item goes straight to KEEL_STEPS, carrying the
   * signed approval (the step verifies it). The orchestrator's decision consumer publishes the very
   * same item (same msg id: JetStream keeps one), so this is only a shortcut: if it fails, nothing
   * is lost. A resume that arrives before the step that opened the gate committed its pause waits.
   */
  private async publishResume(g: Gate, signature: string): Promise<void> {
    const work: StepWork = { taskId: g.taskId, step: g.step, reason: 'resume', approved: { gateId: g.id, index: g.callIndex, revision: g.revision, argsHash: g.argsHash, signature, tenant: g.tenant } };
    try {
      await this.bus.publish(Subjects.stepsRun, work, { msgId: stepMsgId(work, gateResumeSuffix(g.id, g.revision)), ctx: contextFromTraceparent(g.traceparent) });
    } catch (err) {
      this.logger.warn({ gate: g.id, err: (err as Error).message }, 'could not publish the resume shortcut; the orchestrator resumes the task from the decision');
    }
  }

  /** Publishes decisions whose first publish failed. Returns how many went out. */
  async sweep(graceMs = SWEEP_GRACE_MS): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let sent = 0;
    try {
      for (const g of await this.gates.unpublished(graceMs, 100)) {
        await this.publish(g);
        sent++;
      }
      if (sent) this.logger.info({ count: sent }, 're-published approval decisions');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not re-publish approval decisions; will retry');
    } finally {
      this.sweeping = false;
    }
    return sent;
  }
}
