import { Inject, Injectable } from '@nestjs/common';
import { decisionSignature, resolveSigningKey, verifyDecisionSignature } from '@keel/contracts';
import type { SignedDecision } from '@keel/contracts';
import { ENV, LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';

export interface SigningEnv {
  KEEL_APPROVAL_SIGNING_KEY?: string;
}

/**
 * Signs gate decisions with `KEEL_APPROVAL_SIGNING_KEY` (HMAC-SHA256 over
 * gateId|revision|argsHash|decision|tenant) and verifies stored ones. Without
 * the variable a random key is made for this process, with a warning: other
 * replicas and the orchestrator then cannot verify its decisions.
 */
@Injectable()
export class DecisionSigner {
  private readonly key: string;

  constructor(@Inject(ENV) env: SigningEnv, @Inject(LOGGER) logger: Logger) {
    const { key, generated } = resolveSigningKey(env.KEEL_APPROVAL_SIGNING_KEY);
    this.key = key;
    if (generated) {
      logger.warn('KEEL_APPROVAL_SIGNING_KEY is not set: decisions are signed with a random key made for this process only. The orchestrator and other approval replicas will refuse them; set one shared secret value in every approval and orchestrator process.');
    }
  }

  sign(d: SignedDecision): string {
    return decisionSignature(this.key, d);
  }

  verify(d: SignedDecision, signature: string | null | undefined): boolean {
    return verifyDecisionSignature(this.key, d, signature);
  }
}
