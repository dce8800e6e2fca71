import { Inject, Injectable } from '@nestjs/common';
import { Subjects, VerifyKeyResponseSchema } from '@keel/contracts';
import type { Principal } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { PrincipalResolver } from './api-key.guard';

const TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;

/**
 * For services that do not own API keys: ask the orchestrator
 * (`keel.v1.auth.verify`), caching answers briefly so each request is not a
 * round trip. A revoked key stops working within TTL_MS.
 */
@Injectable()
export class NatsPrincipalResolver extends PrincipalResolver {
  private readonly cache = new Map<string, { at: number; principal: Principal | null }>();

  constructor(@Inject(Bus) private readonly bus: Bus) {
    super();
  }

  async resolve(key: string): Promise<Principal | null> {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.principal;
    const { principal } = await this.bus.request(Subjects.authVerify, { key }, VerifyKeyResponseSchema, { timeoutMs: 3000 });
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(key, { at: Date.now(), principal });
    return principal;
  }
}
