import type { ApiKeysRepository, KeyLookup } from './api-keys.repository';
import { DbPrincipalResolver } from './db-principal.resolver';

/** The cache in front of the key table: forgetting a key by id and honouring expiry do not wait for the 10 s TTL. */
describe('DbPrincipalResolver', () => {
  const principal = { keyId: 'k1', tenant: 'default', role: 'submitter' as const, name: 'ci' };
  let row: KeyLookup | null;
  let lookups: number;
  const repo = { lookup: async () => (lookups++, row) } as unknown as ApiKeysRepository;

  beforeEach(() => {
    row = { principal, expiresAt: null };
    lookups = 0;
  });

  it('caches a key, and forgets it by id at once (revocation on this replica)', async () => {
    const resolver = new DbPrincipalResolver(repo);
    expect(await resolver.resolve('secret')).toEqual(principal);
    row = null; // revoked in the table
    expect(await resolver.resolve('secret')).toEqual(principal); // still cached
    resolver.forget('other-key');
    expect(await resolver.resolve('secret')).toEqual(principal);
    resolver.forget('k1');
    expect(await resolver.resolve('secret')).toBeNull();
    expect(lookups).toBe(2);
  });

  it('refuses a cached key as soon as it expires (the end of a rotation grace period)', async () => {
    const resolver = new DbPrincipalResolver(repo);
    row = { principal, expiresAt: Date.now() + 50 };
    expect(await resolver.resolve('secret')).toEqual(principal);
    await new Promise((r) => setTimeout(r, 60));
    expect(await resolver.resolve('secret')).toBeNull();
    expect(lookups).toBe(1);
  });
});
