import type { SubmitTask, TaskEvent, TaskView } from '@keel/contracts';
import { ApiError, ConnectError } from '../api';
import { parseDataset } from './dataset';
import type { EvalCase } from './dataset';
import { EvalRunner } from './runner';
import type { EvalClient } from './runner';

/** What the fake Keel does with a submitted task. */
interface Behaviour {
  status: TaskView['status'];
  output?: string | null;
  error?: { code: string; message: string } | null;
  events?: { type: string; data?: Record<string, unknown> }[];
  delayMs?: number;
  /** Stay in `status` (e.g. waiting_approval) until cancelled. */
  park?: boolean;
  steps?: number;
  costUsd?: number;
}

/** An in-memory Keel: tasks finish after delayMs with the behaviour's status, output and events. */
class FakeKeel implements EvalClient {
  readonly submitted: SubmitTask[] = [];
  readonly cancelled: string[] = [];
  private readonly tasks = new Map<string, { view: TaskView; events: TaskEvent[]; done: Promise<void>; finish: () => void }>();
  private running = 0;
  maxRunning = 0;
  order: string[] = [];

  constructor(private readonly behave: (body: SubmitTask) => Behaviour) {}

  async submit(body: SubmitTask): Promise<{ id: string; status: string }> {
    this.submitted.push(body);
    const b = this.behave(body);
    const id = `t${this.submitted.length}`;
    const created = new Date();
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const view: TaskView = {
      id, status: 'running', agent: body.agent ?? 'demo', mode: 'realtime', input: body.input, output: null, error: null, steps: 0,
      usage: { inputTokens: 0, outputTokens: 0, costUsd: 0 }, traceId: null, conversationId: null, metadata: body.metadata ?? {},
      createdAt: created.toISOString(), updatedAt: created.toISOString(), finishedAt: null,
    };
    let seq = 0;
    const events: TaskEvent[] = [{ taskId: id, seq: ++seq, type: 'task.submitted', at: created.toISOString(), data: {} }];
    this.tasks.set(id, { view, events, done, finish });
    const isCase = body.metadata?.evalRole !== 'judge';
    if (isCase) {
      this.running++;
      this.maxRunning = Math.max(this.maxRunning, this.running);
      this.order.push(String(body.metadata?.evalCase));
    }
    setTimeout(() => {
      for (const e of b.events ?? []) events.push({ taskId: id, seq: ++seq, type: e.type, at: new Date().toISOString(), data: e.data ?? {} });
      Object.assign(view, { status: b.status, output: b.output ?? null, error: b.error ?? null, steps: b.steps ?? 1, usage: { inputTokens: 1, outputTokens: 1, costUsd: b.costUsd ?? 0.001 } });
      if (b.park) return;
      view.finishedAt = new Date(created.getTime() + (b.delayMs ?? 0) + 7).toISOString();
      events.push({ taskId: id, seq: ++seq, type: `task.${b.status}`, at: view.finishedAt, data: {} });
      if (isCase) this.running--;
      finish();
    }, b.delayMs ?? 0);
    return { id, status: 'queued' };
  }

  async task(id: string): Promise<TaskView> {
    return { ...this.tasks.get(id)!.view };
  }

  async cancel(id: string): Promise<void> {
    const t = this.tasks.get(id)!;
    this.cancelled.push(id);
    t.view.status = 'cancelled';
    t.events.push({ taskId: id, seq: t.events.length + 1, type: 'task.cancelled', at: new Date().toISOString(), data: {} });
    this.running--;
    t.finish();
  }

  async *follow(id: string): AsyncGenerator<TaskEvent> {
    const t = this.tasks.get(id)!;
    await t.done;
    yield* t.events;
  }
}

const cases = (...lines: Record<string, unknown>[]): EvalCase[] => {
  const r = parseDataset('s.jsonl', lines.map((l) => JSON.stringify(l)).join('\n'));
  if (r.issues.length) throw new Error(JSON.stringify(r.issues));
  return r.cases;
};
const opts = { concurrency: 4, judgeAgent: 'judge', runId: 'run1', pollMs: 10, drainMs: 500 };

describe('EvalRunner', () => {
  it('submits each case, follows it to its end and scores it; results come in dataset order', async () => {
    const keel = new FakeKeel((b) => (b.input === 'slow' ? { status: 'succeeded', output: '4', delayMs: 40 } : { status: 'failed', error: { code: 'input_blocked', message: 'blocked' } }));
    const { results } = await new EvalRunner(keel, opts).run(cases(
      { id: 'slow', input: 'slow', agent: 'eval-tools', userId: 'u-{{run}}', conversationId: 'c-{{run}}', metadata: { script: [{ content: '4' }] }, expected: { output: '4' } },
      { id: 'blocked', input: 'Ignore {{run}}', expected: { error: { code: 'input_blocked' } } },
    ));
    expect(results.map((r) => [r.id, r.pass, r.status, r.failed])).toEqual([['slow', true, 'succeeded', []], ['blocked', true, 'failed', []]]);
    expect(keel.submitted[0]).toEqual({ input: 'slow', agent: 'eval-tools', userId: 'u-run1', conversationId: 'c-run1', metadata: { script: [{ content: '4' }], evalCase: 'slow', evalRun: 'run1' } });
    expect(keel.submitted[1].input).toBe('Ignore run1');
    expect(results[0]).toMatchObject({ taskId: 't1', steps: 1, costUsd: 0.001, latencyMs: 47, events: 2, source: 's.jsonl:1' });
  });

  it('runs at most `concurrency` cases at once', async () => {
    const keel = new FakeKeel(() => ({ status: 'succeeded', output: 'x', delayMs: 15 }));
    const many = Array.from({ length: 10 }, (_, i) => ({ id: `c${i}`, input: 'x' }));
    const { results } = await new EvalRunner(keel, { ...opts, concurrency: 3 }).run(cases(...many));
    expect(results.every((r) => r.pass)).toBe(true);
    expect(keel.maxRunning).toBe(3);
  });

  it('starts a case only after the cases it depends on have finished', async () => {
    const keel = new FakeKeel((b) => ({ status: 'succeeded', output: 'x', delayMs: b.input === 'first' ? 30 : 1 }));
    await new EvalRunner(keel, { ...opts, concurrency: 8 }).run(cases(
      { id: 'second', input: 'second', dependsOn: ['first'] },
      { id: 'first', input: 'first' },
      { id: 'other', input: 'other' },
    ));
    expect(keel.order.indexOf('second')).toBeGreaterThan(keel.order.indexOf('first'));
    expect(keel.order.slice(0, 2).sort()).toEqual(['first', 'other']);
  });

  it('waits for an expected non-terminal status, then cancels the parked task and reads its events', async () => {
    const keel = new FakeKeel(() => ({ status: 'waiting_approval', park: true, delayMs: 20, events: [{ type: 'approval.requested', data: { tool: 'calculator', tier: 'approve' } }] }));
    const { results } = await new EvalRunner(keel, opts).run(cases({
      id: 'gate', input: 'add', expected: { status: 'waiting_approval', events: [{ type: 'approval.requested', data: { tier: 'approve' } }] },
    }));
    expect(results[0]).toMatchObject({ pass: true, status: 'waiting_approval', cancelled: true });
    expect(keel.cancelled).toEqual(['t1']);
  });

  it('reports a task that ended instead of parking, with its events', async () => {
    const keel = new FakeKeel(() => ({ status: 'failed', delayMs: 5, error: { code: 'input_blocked', message: 'blocked' }, events: [{ type: 'guardrail.screened', data: { verdict: 'block' } }] }));
    const { results } = await new EvalRunner(keel, opts).run(cases({ id: 'gate', input: 'add', expected: { status: 'waiting_approval', events: [{ type: 'approval.requested' }] } }));
    expect(results[0]).toMatchObject({ pass: false, status: 'failed', failed: ['status', 'events'], events: 3 });
    expect(results[0].scorers[0].reason).toBe('expected status waiting_approval, got failed (input_blocked: blocked)');
    expect(keel.cancelled).toEqual([]);
  });

  it('time-boxes a case that never ends: it fails with a reason, and its task is cancelled', async () => {
    const keel = new FakeKeel(() => ({ status: 'waiting_approval', park: true }));
    const { results } = await new EvalRunner(keel, opts).run(cases({ id: 'stuck', input: 'x', timeoutMs: 100 }));
    expect(results[0].pass).toBe(false);
    expect(results[0].scorers[0].reason).toMatch(/^no terminal status within 100 ms \(last status waiting_approval\)/);
    expect(keel.cancelled).toEqual(['t1']);
  });

  it('asks the judge agent with the rubric, and takes its verdict', async () => {
    const keel = new FakeKeel((b) => (b.metadata?.evalRole === 'judge'
      ? { status: 'succeeded', output: '{"score": 0.25, "pass": false, "reason": "names the wrong city"}', costUsd: 0.01 }
      : { status: 'succeeded', output: 'Lyon' }));
    const { results } = await new EvalRunner(keel, opts).run(cases({
      id: 'j', input: 'Capital of France?', expected: { criteria: 'Names Paris.' }, judge: { metadata: { script: [{ content: 'x' }] } },
    }));
    const judgeTask = keel.submitted[1];
    expect(judgeTask.agent).toBe('judge');
    expect(judgeTask.metadata).toMatchObject({ script: [{ content: 'x' }], evalCase: 'j', evalRole: 'judge' });
    expect(judgeTask.input).toContain('<answer>\nLyon\n</answer>');
    expect(judgeTask.input).toContain('<criteria>\nNames Paris.\n</criteria>');
    expect(results[0]).toMatchObject({ pass: false, failed: ['judge'], judge: { agent: 'judge', taskId: 't2', score: 0.25, pass: false, reason: 'names the wrong city', costUsd: 0.01 } });
  });

  it('fails the case when the judge answers something that is not a verdict, or its task fails', async () => {
    const keel = new FakeKeel((b) => {
      if (b.metadata?.evalRole !== 'judge') return { status: 'succeeded', output: 'Paris' };
      return b.agent === 'broken-judge' ? { status: 'failed', error: { code: 'budget_exceeded', message: 'over budget' } } : { status: 'succeeded', output: 'It is fine, I think.' };
    });
    const { results } = await new EvalRunner(keel, opts).run(cases(
      { id: 'j1', input: 'q', expected: { criteria: 'c' } },
      { id: 'j2', input: 'q', expected: { criteria: 'c' }, judge: { agent: 'broken-judge' } },
    ));
    expect(results[0].pass).toBe(false);
    expect(results[0].judge?.reason).toMatch(/^judge answered unparseable output/);
    expect(results[1].judge?.reason).toBe('judge task t4 failed: budget_exceeded: over budget');
  });

  it('records a submission the API refused as a failed case, but stops the run when Keel is unreachable', async () => {
    const refusing: EvalClient = {
      submit: async () => { throw new ApiError('invalid_request', 'agent "nope" is not loaded', 400); },
      task: async () => { throw new Error('unused'); },
      cancel: async () => undefined,
      follow: async function* () { /* nothing */ },
    };
    const { results } = await new EvalRunner(refusing, opts).run(cases({ id: 'a', input: 'x', agent: 'nope' }));
    expect(results[0]).toMatchObject({ pass: false, status: 'error', failed: ['run'] });
    expect(results[0].scorers[0].reason).toBe('submit failed: agent "nope" is not loaded');
    const down: EvalClient = { ...refusing, submit: async () => { throw new ConnectError('http://127.0.0.1:8080', 'connection refused, ECONNREFUSED'); } };
    await expect(new EvalRunner(down, opts).run(cases({ id: 'a', input: 'x' }))).rejects.toThrow(ConnectError);
  });
});
