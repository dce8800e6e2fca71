import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SubmitTask, TaskEvent, TaskView } from '@keel/contracts';
import type { EvalCommand } from '../args';
import { runEvalCommand } from './command';
import type { EvalClient } from './runner';

/** A Keel whose tasks succeed at once, answering the case's first scripted content (or "?"). */
function instantKeel(): EvalClient & { submitted: SubmitTask[] } {
  const views = new Map<string, TaskView>();
  const submitted: SubmitTask[] = [];
  return {
    submitted,
    submit: async (body) => {
      submitted.push(body);
      const id = `t${submitted.length}`;
      const script = body.metadata?.script as { content?: string }[] | undefined;
      const at = new Date().toISOString();
      views.set(id, {
        id, status: 'succeeded', agent: body.agent ?? 'demo', mode: 'realtime', input: body.input, output: script?.[0]?.content ?? '?', error: null, steps: 1,
        usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.000001 }, traceId: null, conversationId: null, metadata: {}, createdAt: at, updatedAt: at, finishedAt: at,
      });
      return { id, status: 'queued' };
    },
    task: async (id) => views.get(id)!,
    cancel: async () => undefined,
    follow: async function* (id): AsyncGenerator<TaskEvent> {
      yield { taskId: id, seq: 1, type: 'task.succeeded', at: new Date().toISOString(), data: {} };
    },
  };
}

const caseLine = (id: string, answer: string, expected: string) => JSON.stringify({ id, input: `q ${id}`, tags: [id.startsWith('a') ? 'alpha' : 'beta'], metadata: { script: [{ content: answer }] }, expected: { output: expected } });

describe('keel eval (command)', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const cfg = { url: 'http://keel.test', apiKey: 'k', natsUrl: 'nats://x' };
  const cmd = (o: Partial<EvalCommand> = {}): EvalCommand => ({ cmd: 'eval', datasets: [join(dir, 'suite.jsonl')], concurrency: 2, judgeAgent: 'judge', ...o });
  const io = (client: EvalClient) => ({ stdout: (t: string) => out.push(t), stderr: { isTTY: false, write: (t: string) => err.push(t) }, style: { colour: false }, cwd: dir, client });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keel-eval-cmd-'));
    out = [];
    err = [];
    writeFileSync(join(dir, 'suite.jsonl'), [caseLine('a1', 'yes', 'yes'), caseLine('a2', 'no', 'yes'), caseLine('b1', 'ok', 'ok')].join('\n'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('exit 1 when a case fails, naming the failing ids last; writes the JSON and HTML reports and a baseline', async () => {
    const keel = instantKeel();
    const r = await runEvalCommand(cmd({ jsonFile: join(dir, 'r.json'), htmlFile: join(dir, 'r.html'), saveBaseline: join(dir, 'b.json') }), cfg, io(keel));
    expect(r).toEqual({ code: 1, forceExit: false });
    const text = out.join('\n');
    expect(text.split('\n').at(-1)).toBe('failing (1): a2');
    expect(text).toMatch(/a2\s+FAIL\s+exact/);
    const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { cases: { id: string; pass: boolean }[] };
    expect(report).toMatchObject({ version: 1, exitCode: 1, failing: ['a2'], summary: { total: 3, passed: 2, failed: 1 }, dataset: ['suite.jsonl'], files: ['suite.jsonl'] });
    expect(report.cases.map((c) => [c.id, c.pass])).toEqual([['a1', true], ['a2', false], ['b1', true]]);
    expect(readFileSync(join(dir, 'r.html'), 'utf8').match(/<tr class="case /g)).toHaveLength(3);
    expect(JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8')).cases).toEqual({ a1: { pass: true }, a2: { pass: false }, b1: { pass: true } });
    expect(err.join('')).toMatch(/eval \[#+\] 3\/3 100 % {2}1 failed/);
  });

  it('exit 0 when everything passes; --tags runs only the tagged cases', async () => {
    const keel = instantKeel();
    expect(await runEvalCommand(cmd({ tags: ['beta'] }), cfg, io(keel))).toEqual({ code: 0, forceExit: false });
    expect(keel.submitted.map((s) => s.input)).toEqual(['q b1']);
    expect(out.join('\n').split('\n').at(-1)).toBe('failing: none');
  });

  it('with --baseline: exit 0 if the only failures failed in the baseline too, exit 1 on a regression', async () => {
    writeFileSync(join(dir, 'old.json'), JSON.stringify({ version: 1, cases: { a1: { pass: true }, a2: { pass: false }, b1: { pass: true } } }));
    expect((await runEvalCommand(cmd({ baseline: join(dir, 'old.json') }), cfg, io(instantKeel()))).code).toBe(0);
    writeFileSync(join(dir, 'old.json'), JSON.stringify({ version: 1, cases: { a1: { pass: true }, a2: { pass: true }, b1: { pass: true } } }));
    out = [];
    expect((await runEvalCommand(cmd({ baseline: join(dir, 'old.json') }), cfg, io(instantKeel()))).code).toBe(1);
    expect(out.join('\n')).toContain('baseline old.json: 1 regression: a2');
  });

  it('exit 2, running nothing, for a bad dataset, tags that match nothing, or a bad baseline', async () => {
    const keel = instantKeel();
    writeFileSync(join(dir, 'bad.jsonl'), `${caseLine('ok', 'x', 'x')}\n{"id": "oops", "input": "x", "expected": {"status": "finished"}}\n`);
    expect(await runEvalCommand(cmd({ datasets: [join(dir, 'bad.jsonl')] }), cfg, io(keel))).toEqual({ code: 2, forceExit: false });
    expect(err.join('')).toMatch(/bad\.jsonl:2: case "oops", field expected\.status: /);
    expect(err.join('')).toMatch(/nothing was run/);
    expect((await runEvalCommand(cmd({ tags: ['gamma'] }), cfg, io(keel))).code).toBe(2);
    writeFileSync(join(dir, 'b.json'), '{"cases": []}');
    expect((await runEvalCommand(cmd({ baseline: join(dir, 'b.json') }), cfg, io(keel))).code).toBe(2);
    expect(err.join('')).toMatch(/not a keel eval baseline/);
    expect(keel.submitted).toEqual([]);
  });

  it('--json - prints the JSON report on stdout and the table on stderr', async () => {
    await runEvalCommand(cmd({ jsonFile: '-' }), cfg, io(instantKeel()));
    expect(JSON.parse(out.join(''))).toMatchObject({ failing: ['a2'] });
    expect(err.join('')).toContain('failing (1): a2');
  });
});
