import { clock, formatLine, levelName, parsePino, prefix, renderPino } from './log-format';

const plain = { colour: false };
const at = (h: number, m: number, s: number, ms: number): number => new Date(2025, 0, 2, h, m, s, ms).getTime();

describe('log line formatting', () => {
  it('renders pino JSON as time, level, message and key=value', () => {
    const line = JSON.stringify({ level: 30, time: at(9, 5, 7, 42), pid: 1, hostname: 'h', service: 'orchestrator', msg: 'task accepted', agent: 'demo', steps: 2, ok: true });
    expect(formatLine('[orchestrator.0]', line, { raw: false, colour: false })).toBe('[orchestrator.0] 09:05:07.042 INFO  task accepted  agent=demo steps=2 ok=true');
  });

  it('keeps trace and task ids short', () => {
    const o = { level: 40, time: at(1, 2, 3, 4), msg: 'slow', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', task_id: '0190c5d2-aaaa-bbbb-cccc-123456789012', taskId: 'abc' };
    expect(renderPino(o, plain)).toBe('01:02:03.004 WARN  slow  trace_id=4bf92f35 task_id=0190c5d2 taskId=abc');
  });

  it('quotes values with spaces and prints objects as JSON', () => {
    const o = { level: 20, time: at(0, 0, 0, 0), msg: 'm', reason: 'two words', empty: '', obj: { a: [1] }, nil: null };
    expect(renderPino(o, plain)).toBe('00:00:00.000 DEBUG m  reason="two words" empty="" obj={"a":[1]} nil=null');
  });

  it('shows an error message inline and its stack frames below, each line prefixed', () => {
    const line = JSON.stringify({ level: 50, time: at(12, 0, 0, 0), msg: 'crashed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at a (x.js:1:1)\n    at b (y.js:2:2)' } });
    expect(formatLine('[router.1]', line, { raw: false, colour: false }).split('\n')).toEqual([
      '[router.1] 12:00:00.000 ERROR crashed  err="Error: boom"',
      '[router.1]     at a (x.js:1:1)',
      '[router.1]     at b (y.js:2:2)',
    ]);
  });

  it('passes non-JSON lines and non-pino JSON through unchanged', () => {
    expect(formatLine('[a.0]', 'plain text {', { raw: false, colour: false })).toBe('[a.0] plain text {');
    expect(formatLine('[a.0]', '{"hello":1}', { raw: false, colour: false })).toBe('[a.0] {"hello":1}');
    expect(formatLine('[a.0]', '{broken', { raw: false, colour: false })).toBe('[a.0] {broken');
    expect(parsePino('[1,2]')).toBeUndefined();
  });

  it('--raw passes JSON through as is', () => {
    const line = JSON.stringify({ level: 30, time: 1, msg: 'x' });
    expect(formatLine('[a.0]', line, { raw: true, colour: false })).toBe(`[a.0] ${line}`);
  });

  it('names levels, including unknown and string ones', () => {
    expect([10, 20, 30, 40, 50, 60].map(levelName)).toEqual(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL']);
    expect(levelName(35)).toBe('L35');
    expect(levelName('warn')).toBe('WARN');
  });

  it('formats clock times, tolerating bad input', () => {
    expect(clock(at(23, 59, 58, 7))).toBe('23:59:58.007');
    expect(clock(new Date(at(1, 1, 1, 1)).toISOString())).toBe('01:01:01.001');
    expect(clock('nonsense')).toBe('--:--:--.---');
  });

  it('pads prefixes to a common width and colours them only when asked', () => {
    expect(prefix('router.0', 15, '\u001b[36m', plain)).toBe('[router.0]       ');
    expect(prefix('router.0', 8, '\u001b[36m', { colour: true })).toBe('\u001b[36m[router.0]\u001b[0m');
    expect(renderPino({ level: 50, time: 0, msg: 'x' }, { colour: true })).toContain('\u001b[31mERROR\u001b[0m');
  });
});
