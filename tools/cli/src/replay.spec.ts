import { formatComparison, stepLines } from './replay';
import type { Comparison } from './replay';

const run = (id: string, status: 'succeeded' | 'failed', steps: number, output: string | null) => ({
  id, status, agent: 'shop', steps, output, error: null, usage: { inputTokens: 1, outputTokens: 1, costUsd: 0 },
});
const post = (n: number) => ({ index: 0, name: 'http_request', arguments: { n }, result: 'sent', ok: true });

describe('formatComparison', () => {
  const c: Comparison = {
    fromStep: 1,
    overrides: { model: 'scripted/other', liveTools: false },
    original: run('11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'succeeded', 3, 'two sent'),
    replay: run('22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'succeeded', 3, 'three sent'),
    steps: [
      { step: 1, shared: true, original: { step: 1, model: 'scripted/default', calls: [post(1)], output: null }, replay: { step: 1, model: null, calls: [post(1)], output: null } },
      {
        step: 2, shared: false, original: { step: 2, model: 'scripted/default', calls: [post(2)], output: null },
        replay: { step: 2, model: 'scripted/other', calls: [{ ...post(2), replayed: true, replayedFrom: '11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa:2:0' }], output: null },
      },
      { step: 3, shared: false, original: { step: 3, model: 'scripted/default', calls: [], output: 'two sent' }, replay: { step: 3, model: 'scripted/other', calls: [], output: 'three sent' } },
    ],
  };

  it('prints both runs side by side, shared steps once, replayed calls with their recorded key', () => {
    const text = formatComparison(c, { colour: false });
    expect(text).toContain('replay 22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb of 11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa from step 1 · model scripted/other');
    expect(text).toMatch(/original 11111111 succeeded, 3 steps/);
    const lines = text.split('\n');
    const step1 = lines.find((l) => l.startsWith('1 ='))!;
    expect(step1).toMatch(/model scripted\/default\s+= shared$/);
    const step2 = lines.findIndex((l) => l.startsWith('2 new'));
    expect(lines[step2]).toMatch(/model scripted\/default\s+model scripted\/other$/);
    expect(lines[step2 + 1]).toMatch(/http_request → ok \{"n":2\}\s+http_request → ok \(recorded 11111111…:2:0\) \{"n":2\}$/);
    expect(text).toMatch(/output\s+"two sent"\s+"three sent"/);
  });

  it('shows a missing step as a dash', () => {
    expect(stepLines(null)).toEqual(['—']);
    expect(stepLines({ step: 1, model: null, calls: [], output: null, error: { code: 'x' } })).toEqual(['model (recorded)', 'error {"code":"x"}']);
  });
});
