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

describe('TtlCache.deleteWhere', () => {
  it('drops matching entries at once and keeps the others', async () => {
    const cache = new TtlCache<string, { id: string }>(10_000);
    let loads = 0;
    const load = (id: string) => async () => (loads++, { id });
    await cache.getOrLoad('a', load('1'));
    await cache.getOrLoad('b', load('2'));
    expect(cache.deleteWhere((v) => v.id === '1')).toBe(1);
    await cache.getOrLoad('a', load('1'));
    await cache.getOrLoad('b', load('2'));
    expect(loads).toBe(3); // a reloaded, b still cached
  });

  it('does not cache a load that was in flight when entries were invalidated', async () => {
    const cache = new TtlCache<string, string>(10_000);
    let release!: () => void;
    const slow = cache.getOrLoad('k', () => new Promise<string>((r) => (release = () => r('stale'))));
    cache.deleteWhere(() => true);
    release();
    expect(await slow).toBe('stale');
    expect(await cache.getOrLoad('k', async () => 'fresh')).toBe('fresh');
  });
});
