import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaselineError, baselineFrom, compareBaseline, exitCodeFor, loadBaseline, markOf, parseBaseline, saveBaseline } from './baseline';

const run = (states: Record<string, boolean>) => Object.entries(states).map(([id, pass]) => ({ id, pass }));

describe('baselines', () => {
  const baseline = baselineFrom(run({ a: true, b: true, c: false, d: false, gone: true }), ['evals/suite'], '2026-01-01T00:00:00.000Z');

  it('records the pass state per case, sorted by id', () => {
    expect(baselineFrom(run({ z: true, a: false }), [], 'now')).toEqual({ version: 1, savedAt: 'now', dataset: [], cases: { a: { pass: false }, z: { pass: true } } });
    expect(Object.keys(baselineFrom(run({ z: true, a: false })).cases)).toEqual(['a', 'z']);
  });

  it('pass → fail is a regression, fail → pass an improvement; new and missing cases are listed', () => {
    const cmp = compareBaseline(baseline, run({ a: true, b: false, c: true, d: false, fresh: false }), 'evals/baseline.json');
    expect(cmp).toEqual({
      file: 'evals/baseline.json', regressions: ['b'], improvements: ['c'], added: [{ id: 'fresh', pass: false }], missing: ['gone'], unchanged: 2,
    });
    expect(['a', 'b', 'c', 'fresh'].map((id) => markOf(id, cmp))).toEqual(['unchanged', 'regression', 'improvement', 'new']);
    expect(markOf('a', undefined)).toBeUndefined();
  });

  it('exit code: 0 when all pass; with a baseline, 0 unless something regressed', () => {
    expect(exitCodeFor(run({ a: true, b: true }))).toBe(0);
    expect(exitCodeFor(run({ a: true, b: false }))).toBe(1);
    expect(exitCodeFor([])).toBe(0);
    // d failed in the baseline and still fails: not a regression.
    expect(exitCodeFor(run({ a: true, b: true, d: false }), compareBaseline(baseline, run({ a: true, b: true, d: false })))).toBe(0);
    expect(exitCodeFor(run({ a: false }), compareBaseline(baseline, run({ a: false })))).toBe(1);
  });

  it('round-trips through a file, and refuses a file that is not a baseline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-baseline-'));
    try {
      const file = join(dir, 'baseline.json');
      saveBaseline(file, baseline);
      expect(loadBaseline(file)).toEqual(baseline);
      expect(readFileSync(file, 'utf8').endsWith('}\n')).toBe(true);
      expect(() => loadBaseline(join(dir, 'missing.json'))).toThrow(/cannot read baseline .*ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => parseBaseline('{', 'b.json')).toThrow(BaselineError);
    expect(() => parseBaseline('{"version": 1, "cases": {"a": {"pass": "yes"}}}', 'b.json')).toThrow(/b\.json: not a keel eval baseline: cases\.a\.pass/);
  });
});
