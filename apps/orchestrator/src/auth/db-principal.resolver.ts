import { Inject, Injectable } from '@nestjs/common';
import { PrincipalResolver, TtlCache } from '@keel/service-kit';
import type { Principal } from '@keel/contracts';
import { ApiKeysRepository } from './api-keys.repository';
import type { KeyLookup } from './api-keys.repository';

const TTL_MS = 10_000;

/**
 * Resolves keys against the key table, with a short cache so every request is
 * not a query. Revocation takes effect at once on the replica that revoked
 * (`forget`), elsewhere within TTL_MS; expiry (including the end of a
 * rotation's grace period) is honoured exactly, cached or not.
 */
@Injectable()
export class DbPrincipalResolver extends PrincipalResolver {
  private readonly cache = new TtlCache<string, KeyLookup | null>(TTL_MS);

  constructor(@Inject(ApiKeysRepository) private readonly keys: ApiKeysRepository) {
    super();
  }

  async resolve(key: string): Promise<Principal | null> {
    const found = await this.cache.getOrLoad(key, () => this.keys.lookup(key));
    if (!found || (found.expiresAt !== null && found.expiresAt <= Date.now())) return null;
    return found.principal;
  }

  override peek(key: string): Principal | null | undefined {
    const found = this.cache.peek(key);
    if (found === undefined) return undefined;
    return !found || (found.expiresAt !== null && found.expiresAt <= Date.now()) ? null : found.principal;
  }

  /** Drops the cached answer for a key known by its id (the cache is keyed by the secret, which is not stored). */
  forget(keyId: string): void {
    this.cache.deleteWhere((v) => v?.principal.keyId === keyId);
  }
}
