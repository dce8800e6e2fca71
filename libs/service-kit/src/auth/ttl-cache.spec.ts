import { TtlCache } from './ttl-cache';

describe('TtlCache', () => {
  it('serves from cache within the TTL and reloads after it', async () => {
    let loads = 0;
    const cache = new TtlCache<string, number>(50);
    const load = async () => ++loads;
    expect(await cache.getOrLoad('k', load)).toBe(1);
    expect(await cache.getOrLoad('k', load)).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(await cache.getOrLoad('k', load)).toBe(2);
  });

  it('stays bounded', async () => {
    const cache = new TtlCache<number, number>(10_000, 2);
    let loads = 0;
    for (const k of [1, 2, 3, 1]) await cache.getOrLoad(k, async () => ++loads);
    expect(loads).toBe(4); // 3 evicted the first two, so 1 loaded again
  });
});
