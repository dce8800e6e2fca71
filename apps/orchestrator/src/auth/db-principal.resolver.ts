import { Inject, Injectable } from '@nestjs/common';
import { PrincipalResolver, TtlCache } from '@keel/service-kit';
import type { Principal } from '@keel/contracts';
import { ApiKeysRepository } from './api-keys.repository';

const TTL_MS = 10_000;

/** Resolves keys against the key table, with a short cache so every request is not a query; revocation takes effect within TTL_MS. */
@Injectable()
export class DbPrincipalResolver extends PrincipalResolver {
  private readonly cache = new TtlCache<string, Principal | null>(TTL_MS);

  constructor(@Inject(ApiKeysRepository) private readonly keys: ApiKeysRepository) {
    super();
  }

  async resolve(key: string): Promise<Principal | null> {
    return this.cache.getOrLoad(key, () => this.keys.findActive(key));
  }
}
