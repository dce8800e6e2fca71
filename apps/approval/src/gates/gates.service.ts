import { Inject, Injectable } from '@nestjs/common';
import { approvalSettings, KeelError } from '@keel/contracts';
import type { Agent, ApprovalCheckRequest, ApprovalCheckResponse, ApprovalWithdrawRequest, CallDecision, Principal, ToolCall } from '@keel/contracts';
import { AGENTS, ENV, LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { counter, traceparentOf } from '@keel/telemetry';
import { decide } from '@keel/policy';
import type { PolicyDecision } from '@keel/policy';
import { argsHash } from './args-hash';
import { DecisionPublisher } from './decision.publisher';
import { DecisionSigner } from './decision.signer';
import { GatesRepository } from './gates.repository';
import type { Gate, GateStatus, ListFilter, NewNotification } from './gates.repository';
import { gateLink, webhookRow } from './notifications';
import { Notifier } from './notifier';
import { EXPIRED_REASON } from './gate.sweeper';

export interface GateView {
  id: string;
  taskId: string;
  step: number;
  index: number;
  agent: string;
  tool: string;
  arguments: Record<string, unknown>;
  argsHash: string;
  tier: string;
  kind: string;
  reason: string;
  status: GateStatus;
  decidedBy: string | null;
  comment: string | null;
  createdAt: string;
  decidedAt: string | null;
  /** When a pending approval gate times out (null: no deadline). */
  expiresAt: string | null;
  escalationLevel: number;
  assignedGroup: string | null;
}

export const toView = (g: Gate): GateView => ({
  id: g.id, taskId: g.taskId, step: g.step, index: g.callIndex, agent: g.agent, tool: g.tool, arguments: g.arguments, argsHash: g.argsHash,
  tier: g.tier, kind: g.kind, reason: g.reason, status: g.status, decidedBy: g.decidedBy, comment: g.comment,
  createdAt: g.createdAt.toISOString(), decidedAt: g.decidedAt ? g.decidedAt.toISOString() : null,
  expiresAt: g.expiresAt ? g.expiresAt.toISOString() : null, escalationLevel: g.escalationLevel, assignedGroup: g.assignedGroup,
});

export interface ApprovalEnv {
  KEEL_APPROVAL_BASE_URL?: string;
  /** Slack-compatible incoming webhook for gate opened / escalated / expired. */
  KEEL_APPROVAL_WEBHOOK_URL?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LIST_LIMIT = 100;

const checked = counter('keel_approval_checks_total', 'Proposed tool calls checked, by answer', ['action', 'tier']);
const decided = counter('keel_approval_decisions_total', 'Human decisions on gates, by kind and outcome', ['kind', 'status']);
const reviews = counter('keel_reviews_total', 'Review records looked at by a person: ok (reviewed) or wrong (marked wrong, an objection)', ['verdict']);
const invalidSignatures = counter('keel_approval_signature_invalid_total', 'Stored decisions whose signature did not verify (treated as not approved)', []);

/** Gates: the policy answer for proposed calls, and the human decisions on them. */
@Injectable()
export class GatesService {
  constructor(
    @Inject(GatesRepository) private readonly gates: GatesRepository,
    @Inject(DecisionPublisher) private readonly publisher: DecisionPublisher,
    @Inject(DecisionSigner) private readonly signer: DecisionSigner,
    @Inject(Notifier) private readonly notifier: Notifier,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Inject(ENV) private readonly env: ApprovalEnv,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** `keel.v1.approvals.check`: one answer per call, in order. Asking again for the same step is safe (gates are keyed by task, step and index). */
  async check(req: ApprovalCheckRequest): Promise<ApprovalCheckResponse> {
    const agent = this.agents.get(req.agent);
    if (!agent) throw new KeelError('invalid_request', `unknown agent "${req.agent}": the approval service loads agents from the same files as the orchestrator`);
    const decisions: CallDecision[] = [];
    for (const [index, call] of req.calls.entries()) {
      const d = await this.checkCall(req, agent, index, call);
      checked.inc({ action: d.action, tier: d.tier });
      decisions.push(d);
    }
    return { decisions };
  }

  private async checkCall(req: ApprovalCheckRequest, agent: Agent, index: number, call: ToolCall): Promise<CallDecision> {
    // A call whose outcome is unknown always goes to a person, whatever its tier.
    const policy: PolicyDecision = req.inDoubt?.includes(index)
      ? { tier: 'approve', action: 'approve', reason: `the outcome of an earlier run of ${call.name} is unknown (its executor stopped during the call) and it is not idempotent: approve to run it again, reject to leave it not run` }
      : decide(agent, call, req.confidence, req.intent, req.specs?.[call.name]);
    if (policy.action === 'run') return { index, action: 'run', tier: policy.tier, reason: policy.reason };
    // Refused by policy outright (a read-only task's write call, agent set to block): no gate, nobody to ask.
    if (policy.action === 'block') return { index, action: 'rejected', tier: policy.tier, reason: `blocked by policy: ${policy.reason}` };

    const hash = argsHash(call.arguments);
    const { timeoutMs } = approvalSettings(agent);
    const opened = (g: Gate): NewNotification[] => webhookRow(this.env.KEEL_APPROVAL_WEBHOOK_URL, 'gate.opened', g, this.env.KEEL_APPROVAL_BASE_URL);
    const { gate: found, created } = await this.gates.open({
      tenant: req.tenant, taskId: req.taskId, step: req.step, callIndex: index, agent: agent.name, tool: call.name,
      arguments: call.arguments, argsHash: hash, tier: policy.tier, reason: policy.reason, kind: policy.action,
      // The orchestrator's step is the caller: its trace context lets the resume after a decision stay in the task's trace.
      traceparent: traceparentOf() ?? null,
    }, { timeoutMs, notify: (g) => (g.kind === 'approve' ? opened(g) : []) });
    if (found.tenant !== req.tenant) {
      throw new KeelError('conflict', `gate ${found.gateKey} belongs to another tenant`);
    }
    if (created && found.kind === 'approve' && this.env.KEEL_APPROVAL_WEBHOOK_URL) this.notifier.kick(); // never waited for
    if (created) this.logger.info({ gate: found.id, task_id: req.taskId, step: req.step, tool: call.name, tier: policy.tier, kind: policy.action }, `${policy.action === 'approve' ? 'approval gate' : 'review'} opened`);

    let gate = found;
    if (policy.action === 'approve' && gate.kind === 'review') {
      const escalated = await this.gates.escalate(gate, policy.tier, policy.reason, timeoutMs, opened);
      if (escalated && this.env.KEEL_APPROVAL_WEBHOOK_URL) this.notifier.kick();
      gate = escalated ?? gate;
    }
    // A review record never holds a call back; an approval gate (also one opened under a stricter policy earlier) does.
    if (gate.kind === 'review') return { index, action: 'review', tier: policy.tier, reason: policy.reason, gateId: gate.id };
    return this.answerFromGate(gate, call, hash, index, policy, timeoutMs);
  }

  private async answerFromGate(gate: Gate, call: ToolCall, hash: string, index: number, policy: PolicyDecision, timeoutMs: number): Promise<CallDecision> {
    const base = { index, tier: gate.tier, gateId: gate.id };
    switch (gate.status) {
      case 'approved': {
        if (gate.argsHash === hash) {
          // The decision must be the one the service signed for this gate, revision and these arguments:
          // an altered or forged row is not an approval.
          if (!this.signer.verify({ gateId: gate.id, revision: gate.revision, argsHash: hash, decision: 'approve', tenant: gate.tenant }, gate.signature)) {
            invalidSignatures.inc();
            this.logger.error({ gate: gate.id, task_id: gate.taskId }, 'the stored approval\'s signature does not verify; the call does not run');
            await this.gates.audit({ tenant: gate.tenant, actor: 'system', action: 'decision.signature_invalid', gateId: gate.id, details: { argsHash: hash, revision: gate.revision, status: gate.status, decidedBy: gate.decidedBy } });
            return { ...base, action: 'rejected', reason: 'the approval\'s signature is invalid (the decision was altered, forged or signed with another key); treated as not approved', comment: 'the approval could not be verified, so the call did not run' };
          }
          return { ...base, action: 'run', reason: `approved by ${gate.decidedBy ?? 'unknown'}` };
        }
        const reopened = await this.gates.reopen(gate, call.arguments, hash, timeoutMs);
        this.logger.warn({ gate: gate.id, task_id: gate.taskId }, 'call arguments differ from the approved ones; gate re-opened');
        return { ...base, action: 'wait', reason: this.waitReason(reopened ?? gate, 'the arguments differ from the ones that were approved') };
      }
      case 'rejected':
        // Fail-safe whatever the arguments: a rejection never turns into a run.
        return { ...base, action: 'rejected', reason: `rejected by ${gate.decidedBy ?? 'unknown'}`, ...(gate.comment ? { comment: gate.comment } : {}) };
      case 'expired':
        // Terminal and fail-safe like a rejection: the call never runs.
        return { ...base, action: 'rejected', expired: true, reason: gate.comment ?? EXPIRED_REASON, comment: 'approval timed out' };
      case 'pending':
        if (gate.argsHash !== hash) {
          // The person is looking at the stored arguments; their decision applies to those only (the next check re-opens for these).
          await this.gates.audit({ tenant: gate.tenant, actor: 'system', action: 'gate.arguments_mismatch', gateId: gate.id, details: { storedArgsHash: gate.argsHash, argsHash: hash } });
        }
        return { ...base, action: 'wait', reason: this.waitReason(gate, policy.reason) };
      default:
        return { ...base, action: 'wait', reason: this.waitReason(gate, policy.reason) };
    }
  }

  private waitReason(gate: Gate, why: string): string {
    const url = gateLink(this.env.KEEL_APPROVAL_BASE_URL, gate.id);
    const link = url ? ` at ${url}` : '';
    return `${why}; waiting for a person to approve gate ${gate.id}${link}`;
  }

  /** `keel.v1.approvals.withdraw`: the task ended (cancelled, timed out); its pending gates leave the console. */
  async withdraw(req: ApprovalWithdrawRequest): Promise<{ withdrawn: number }> {
    const reason = req.reason === 'cancelled' ? 'the task was cancelled' : 'the task reached its time limit';
    const gates = await this.gates.withdrawForTask(req.taskId, req.tenant, reason);
    for (const g of gates) {
      decided.inc({ kind: g.kind, status: g.status });
      this.logger.info({ gate: g.id, task_id: g.taskId, reason: req.reason }, 'gate withdrawn: its task ended');
    }
    return { withdrawn: gates.length };
  }

  async list(tenant: string, filter: ListFilter | undefined): Promise<GateView[]> {
    return (await this.gates.list(tenant, filter, LIST_LIMIT)).map(toView);
  }

  async get(tenant: string, id: string): Promise<GateView> {
    return toView(await this.find(tenant, id));
  }

  /**
   * A person's decision. `expectArgsHash` (the console sends it as If-Match)
   * binds the decision to the arguments the person saw. On an approval gate
   * the decision is published for the waiting task; on a review record
   * `approve` marks it reviewed and `reject` records an objection (the call
   * already ran, so there is nothing to resume).
   */
  async decide(principal: Principal, id: string, body: { decision: 'approve' | 'reject'; comment?: string }, expectArgsHash?: string): Promise<GateView> {
    const gate = await this.find(principal.tenant, id);
    if (gate.status !== 'pending') throw alreadyDecided(gate);
    if (expectArgsHash !== undefined && expectArgsHash !== gate.argsHash) throw argsChanged();
    const status = body.decision === 'reject' ? 'rejected' : gate.kind === 'review' ? 'reviewed' : 'approved';
    const comment = body.comment?.trim() ? body.comment.trim() : null;
    const signature = this.signer.sign({ gateId: gate.id, revision: gate.revision, argsHash: gate.argsHash, decision: body.decision, tenant: gate.tenant });
    const updated = await this.gates.decide(gate, {
      status, decidedBy: principal.name, comment, signature,
      audit: {
        tenant: principal.tenant, actor: principal.name, action: `${gate.kind === 'review' ? 'review' : 'gate'}.${status}`, gateId: gate.id,
        details: { keyId: principal.keyId, role: principal.role, decision: body.decision, comment, argsHash: gate.argsHash, revision: gate.revision },
      },
    });
    if (!updated) {
      const now = await this.find(principal.tenant, id);
      throw now.status !== 'pending' ? alreadyDecided(now) : argsChanged();
    }
    decided.inc({ kind: updated.kind, status: updated.status });
    if (updated.kind === 'review') reviews.inc({ verdict: updated.status === 'rejected' ? 'wrong' : 'ok' });
    this.logger.info({ gate: updated.id, task_id: updated.taskId, status, key_id: principal.keyId }, `gate ${status}`);
    try {
      await this.publisher.publish(updated);
    } catch (err) {
      // The decision is stored; the publisher's sweep sends it when NATS is back.
      this.logger.warn({ gate: updated.id, err: (err as Error).message }, 'could not publish the decision yet; it will be retried');
    }
    return toView(updated);
  }

  private async find(tenant: string, id: string): Promise<Gate> {
    // Another tenant's gate and a malformed id look the same as a missing one.
    const gate = UUID.test(id) ? await this.gates.get(tenant, id) : null;
    if (!gate) throw new KeelError('not_found', `no approval ${id}`);
    return gate;
  }
}

const alreadyDecided = (g: Gate) => new KeelError('conflict', `approval ${g.id} was already decided: ${g.status}${g.decidedBy ? ` by ${g.decidedBy}` : ''}`, { details: { status: g.status, decidedBy: g.decidedBy } });
const argsChanged = () => new KeelError('conflict', 'the call\'s arguments changed since you loaded it; reload and decide again');
