import { VectorIndex } from './vector-index';
import { mulberry32 } from '@keel/testing';

function unit(values: number[]): Float32Array {
  const v = Float32Array.from(values);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function randomUnit(rand: () => number, dim: number): Float32Array {
  return unit(Array.from({ length: dim }, () => rand() * 2 - 1));
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** The reference: score every row, sort, filter, cut. */
function bruteForce(rows: { id: number; vector: Float32Array }[], query: Float32Array, k: number, minScore: number, exclude = new Set<number>()) {
  return rows
    .map((r) => ({ id: r.id, score: dot(r.vector, query) }))
    .filter((r) => r.score >= minScore && !exclude.has(r.id))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

describe('VectorIndex', () => {
  // Four rows at known angles to the query [1, 0, 0].
  const rows = [
    { id: 1, vector: unit([0, 1, 0]) }, //         cos 0
    { id: 2, vector: unit([1, 0.2, 0]) }, //       cos ≈ 0.981
    { id: 3, vector: unit([1, 1, 0]) }, //         cos ≈ 0.707
    { id: 4, vector: unit([1, 0, 0]) }, //         cos 1
    { id: 5, vector: unit([-1, 0.1, 0]) }, //      cos ≈ -0.995
  ];
  const query = unit([1, 0, 0]);

  it('returns the k most similar ids, best first', () => {
    const index = new VectorIndex(3);
    index.append('u', rows);
    const top = index.search('u', query, 3, -1);
    expect(top.map((h) => h.id)).toEqual([4, 2, 3]);
    expect(top[0].score).toBeCloseTo(1, 5);
    expect(top[1].score).toBeCloseTo(1 / Math.hypot(1, 0.2), 5);
    expect(top[2].score).toBeCloseTo(Math.SQRT1_2, 5);
    expect(index.search('u', query, 1, -1).map((h) => h.id)).toEqual([4]);
    expect(index.search('u', query, 10, -1).map((h) => h.id)).toEqual([4, 2, 3, 1, 5]);
    expect(index.search('u', query, 0, -1)).toEqual([]);
  });

  it('leaves out rows below minScore', () => {
    const index = new VectorIndex(3);
    index.append('u', rows);
    expect(index.search('u', query, 10, 0.7).map((h) => h.id)).toEqual([4, 2, 3]);
    expect(index.search('u', query, 10, 0.99).map((h) => h.id)).toEqual([4]);
    expect(index.search('u', query, 10, 1.01)).toEqual([]);
  });

  it('skips excluded ids without shrinking the result', () => {
    const index = new VectorIndex(3);
    index.append('u', rows);
    expect(index.search('u', query, 2, -1, new Set([4])).map((h) => h.id)).toEqual([2, 3]);
    expect(index.search('u', query, 2, -1, new Set([4, 2, 3])).map((h) => h.id)).toEqual([1, 5]);
  });

  it('searches only the asked user\'s copy', () => {
    const index = new VectorIndex(3);
    index.append('a', rows.slice(0, 2));
    index.append('b', rows.slice(2));
    expect(index.search('a', query, 10, -1).map((h) => h.id)).toEqual([2, 1]);
    expect(index.search('b', query, 10, -1).map((h) => h.id)).toEqual([4, 3, 5]);
    expect(index.search('nobody', query, 10, -1)).toEqual([]);
  });

  it('appends only rows above lastId', () => {
    const index = new VectorIndex(3);
    expect(index.lastId('u')).toBe(0);
    index.append('u', rows.slice(0, 3));
    expect(index.lastId('u')).toBe(3);
    // A refresh that overlaps what the copy holds (ids 2, 3) adds only the new ones.
    index.append('u', rows.slice(1));
    expect(index.size).toBe(5);
    expect(index.lastId('u')).toBe(5);
    expect(index.search('u', query, 10, -1).map((h) => h.id).sort()).toEqual([1, 2, 3, 4, 5]);
    // Stale rows only: nothing changes.
    index.append('u', [{ id: 2, vector: unit([0, 0, 1]) }]);
    expect(index.size).toBe(5);
    expect(index.search('u', unit([0, 0, 1]), 1, -1)[0].score).toBeLessThan(0.5);
    index.append('u', []);
    expect(index.size).toBe(5);
  });

  it('refuses an embedding of another dimension, and adds nothing of that batch', () => {
    const index = new VectorIndex(3);
    index.append('u', rows.slice(0, 2));
    expect(() => index.append('u', [{ id: 3, vector: [1, 0, 0] }, { id: 4, vector: [1, 0] }])).toThrow(/dimension 2/);
    expect(index.size).toBe(2);
    expect(index.lastId('u')).toBe(2);
    expect(() => index.append('v', [{ id: 9, vector: [1, 0, 0, 0] }])).toThrow(/dimension 4/);
    expect(index.lastId('v')).toBe(0);
  });

  it('refuses a query of another dimension', () => {
    const index = new VectorIndex(3);
    index.append('u', rows);
    expect(() => index.search('u', new Float32Array([1, 0]), 3, 0.5)).toThrow(/dimension 2/);
  });

  it('forgets a user\'s copy', () => {
    const index = new VectorIndex(3);
    index.append('a', rows.slice(0, 2));
    index.append('b', rows.slice(2));
    index.forget('a');
    expect(index.size).toBe(3);
    expect(index.lastId('a')).toBe(0);
    expect(index.search('a', query, 10, -1)).toEqual([]);
    expect(index.search('b', query, 10, -1)).toHaveLength(3);
    index.forget('a');
    expect(index.size).toBe(3);
    // After forgetting, the copy is rebuilt from scratch.
    index.append('a', rows.slice(0, 1));
    expect(index.lastId('a')).toBe(1);
    expect(index.size).toBe(4);
  });

  it('evicts the least recently used copies beyond maxVectors, never the one being appended to', () => {
    const rand = mulberry32(7);
    const batch = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: from + i, vector: randomUnit(rand, 3) }));
    const index = new VectorIndex(3, 10);
    index.append('a', batch(1, 4));
    index.append('b', batch(1, 4));
    // A search is a use: 'a' is now more recent than 'b'.
    index.search('a', query, 1, -1);
    index.append('c', batch(1, 4));
    expect(index.size).toBe(8);
    expect(index.lastId('b')).toBe(0);
    expect(index.lastId('a')).toBe(4);
    expect(index.lastId('c')).toBe(4);
    // Growing 'c' past the limit evicts 'a' (the only other copy), not 'c' itself.
    index.append('c', batch(5, 8));
    expect(index.lastId('a')).toBe(0);
    expect(index.lastId('c')).toBe(12);
    expect(index.size).toBe(12);
    expect(index.search('c', query, 20, -1)).toHaveLength(12);
  });

  it('keeps every vector right as a copy grows past its initial capacity', () => {
    const rand = mulberry32(42);
    const dim = 16;
    const index = new VectorIndex(dim);
    const all: { id: number; vector: Float32Array }[] = [];
    // Uneven batches with gaps in the ids, crossing the 64-row start and several doublings.
    let id = 0;
    for (const n of [1, 40, 30, 100, 5, 200]) {
      const batch = Array.from({ length: n }, () => ({ id: (id += 1 + Math.floor(rand() * 3)), vector: randomUnit(rand, dim) }));
      index.append('u', batch);
      all.push(...batch);
    }
    expect(all.length).toBe(376);
    expect(index.size).toBe(376);
    expect(index.lastId('u')).toBe(all[all.length - 1].id);
    // Every stored vector is found as its own best match, with score 1.
    for (const row of all) {
      const [best] = index.search('u', row.vector, 1, -1);
      expect(best.id).toBe(row.id);
      expect(best.score).toBeCloseTo(1, 5);
    }
    // And random queries agree with a brute-force ranking.
    for (let q = 0; q < 20; q++) {
      const v = randomUnit(rand, dim);
      const exclude = new Set(all.filter(() => rand() < 0.1).map((r) => r.id));
      const got = index.search('u', v, 7, 0.1, exclude);
      const want = bruteForce(all, v, 7, 0.1, exclude);
      expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
      got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i].score, 5));
    }
  });
});
