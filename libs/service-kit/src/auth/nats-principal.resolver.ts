import { Inject, Injectable } from '@nestjs/common';
import { Subjects, VerifyKeyResponseSchema } from '@keel/contracts';
import type { Principal } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { PrincipalResolver } from './api-key.guard';
import { TtlCache } from './ttl-cache';

const TTL_MS = 10_000;

/**
 * For services that do not own API keys: ask the orchestrator
 * (`keel.v1.auth.verify`), caching answers briefly so each request is not a
 * round trip. A revoked key stops working within TTL_MS.
 */
@Injectable()
export class NatsPrincipalResolver extends PrincipalResolver {
  private readonly cache = new TtlCache<string, Principal | null>(TTL_MS);

  constructor(@Inject(Bus) private readonly bus: Bus) {
    super();
  }

  override peek(key: string): Principal | null | undefined {
    return this.cache.peek(key);
  }

  async resolve(key: string): Promise<Principal | null> {
    return this.cache.getOrLoad(key, async () => (await this.bus.request(Subjects.authVerify, { key }, VerifyKeyResponseSchema, { timeoutMs: 3000 })).principal);
  }
}
