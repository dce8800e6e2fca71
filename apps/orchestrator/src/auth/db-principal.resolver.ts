import { Inject, Injectable } from '@nestjs/common';
import { PrincipalResolver } from '@keel/service-kit';
import type { Principal } from '@keel/contracts';
import { ApiKeysRepository } from './api-keys.repository';

const TTL_MS = 10_000;
const MAX_ENTRIES = 10_000;

/** Resolves keys against the key table, with a short cache so every request is not a query; revocation takes effect within TTL_MS. */
@Injectable()
export class DbPrincipalResolver extends PrincipalResolver {
  private readonly cache = new Map<string, { at: number; principal: Principal | null }>();

  constructor(@Inject(ApiKeysRepository) private readonly keys: ApiKeysRepository) {
    super();
  }

  async resolve(key: string): Promise<Principal | null> {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.principal;
    const principal = await this.keys.findActive(key);
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
    this.cache.set(key, { at: Date.now(), principal });
    return principal;
  }
}
