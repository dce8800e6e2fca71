import { formatDuration, Progress } from './progress';

const sink = (isTTY: boolean) => {
  const writes: string[] = [];
  return { out: { isTTY, columns: 200, write: (t: string) => writes.push(t) }, writes };
};

describe('progress', () => {
  it('not on a terminal: one line per 10 % of the cases, and one at the end', () => {
    const { out, writes } = sink(false);
    const p = new Progress(25, out, () => 0, 0);
    p.start();
    for (let i = 0; i < 25; i++) p.tick(i !== 3);
    p.finish();
    expect(writes).toHaveLength(10);
    expect(writes.every((w) => w.startsWith('eval [') && w.endsWith('\n'))).toBe(true);
    expect(writes[0]).toContain(' 3/25  12 %');
    expect(writes.at(-1)).toContain('25/25 100 %  1 failed');
  });

  it('on a terminal: the line is redrawn after every case, and ended once', () => {
    const { out, writes } = sink(true);
    const p = new Progress(4, out, () => 1500, 0);
    p.start();
    for (let i = 0; i < 4; i++) p.tick(true);
    p.finish();
    expect(writes).toHaveLength(6);
    expect(writes.slice(0, 5).every((w) => w.startsWith('\r\u001b[2K'))).toBe(true);
    expect(writes[4]).toContain('[########################] 4/4 100 %  1.5 s');
    expect(writes[5]).toBe('\n');
  });

  it('formats durations', () => {
    expect([formatDuration(42), formatDuration(1234), formatDuration(125_000)]).toEqual(['42 ms', '1.2 s', '2 min 5 s']);
  });
});
