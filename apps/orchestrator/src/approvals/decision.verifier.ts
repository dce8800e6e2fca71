import { Inject, Injectable } from '@nestjs/common';
import { argsHash, resolveSigningKey, verifyDecisionSignature } from '@keel/contracts';
import type { ApprovalDecided } from '@keel/contracts';
import { ENV, LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { pendingCall } from '../checkpoints/checkpoint.repository';
import type { PendingTurn } from '../checkpoints/checkpoint.repository';

export interface VerifierEnv {
  KEEL_APPROVAL_SIGNING_KEY?: string;
}

/**
 * Checks a gate message from the approval service before the task acts on
 * it: its HMAC (`KEEL_APPROVAL_SIGNING_KEY`, shared with the approval
 * service) over gateId|revision|argsHash|decision|tenant, and that the
 * arguments it covers are those of the call the task waits on. A message
 * replayed against another gate or altered arguments fails either check.
 */
@Injectable()
export class DecisionVerifier {
  private readonly key: string;

  constructor(@Inject(ENV) env: VerifierEnv, @Inject(LOGGER) logger: Logger) {
    const { key, generated } = resolveSigningKey(env.KEEL_APPROVAL_SIGNING_KEY);
    this.key = key;
    if (generated) {
      logger.warn('KEEL_APPROVAL_SIGNING_KEY is not set: approval decisions cannot be verified and will be refused (tasks stay waiting until they time out); set the same secret value as the approval service\'s');
    }
  }

  /** A signed approval carried by a resumed step, checked against the call it is about to run. */
  approves(a: { gateId: string; revision: number; argsHash: string; signature: string; tenant: string }, args: Record<string, unknown>): boolean {
    return verifyDecisionSignature(this.key, { gateId: a.gateId, revision: a.revision, argsHash: a.argsHash, decision: 'approve', tenant: a.tenant }, a.signature)
      && argsHash(args) === a.argsHash;
  }

  /** Null when the message may be acted on, else why not. */
  problem(d: ApprovalDecided, pending: PendingTurn | null): string | null {
    if (!verifyDecisionSignature(this.key, { gateId: d.gateId, revision: d.revision, argsHash: d.argsHash, decision: d.decision, tenant: d.tenant }, d.signature)) {
      return 'signature does not verify (forged, altered, replayed against another gate, or signed with another key)';
    }
    const call = d.index === undefined ? undefined : pendingCall(pending, d.index);
    if (call && argsHash(call.arguments) !== d.argsHash) return 'it covers other arguments than the waiting call\'s';
    return null;
  }
}
