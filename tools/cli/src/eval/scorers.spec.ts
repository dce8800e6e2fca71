import type { TaskEvent } from '@keel/contracts';
import { compileRegex, firstMismatch, partialMatch } from './match';
import {
  actualToolCalls, expectedStatus, judgePrompt, parseJudgeAnswer, scoreCase, scoreError, scoreEvents, scoreEventsAbsent, scoreExact,
  scoreJsonSchema, scoreRegex, scoreStatus, scoreToolCalls,
} from './scorers';
import type { Observation } from './scorers';

let seq = 0;
const ev = (type: string, data: Record<string, unknown> = {}): TaskEvent => ({ taskId: 't', seq: ++seq, type, at: '2026-01-01T00:00:00.000Z', data });
const obs = (o: Partial<Observation> = {}): Observation => ({ status: 'succeeded', output: 'ok', error: null, events: [], ...o });

/** The events of a task whose model calls the calculator twice (step 1: one call; step 2: one call), then answers. */
const calcTask = (second: Record<string, unknown> = { ok: true }): TaskEvent[] => [
  ev('task.submitted'),
  ev('step.started', { step: 1 }),
  ev('model.completed', { toolCalls: ['calculator'] }),
  ev('tool.completed', { step: 1, index: 0, tool: 'calculator', ok: true }),
  ev('step.started', { step: 2 }),
  ev('model.retry', { attempt: 1, error: { status: 429 } }),
  ev('model.completed', { toolCalls: ['calculator'] }),
  ev('tool.completed', { step: 2, index: 0, tool: 'calculator', ...second }),
  ev('step.started', { step: 3 }),
  ev('model.completed', { toolCalls: [] }),
  ev('task.succeeded', { step: 3 }),
];
const calcScript = [
  { toolCalls: [{ name: 'calculator', arguments: { expression: '17*3' } }] },
  { fault: { status: 429 } },
  { toolCalls: [{ name: 'calculator', arguments: { expression: '51+9' } }] },
  { content: '60' },
];

describe('match helpers', () => {
  it('partialMatch: expected keys only, deeply; arrays element by element', () => {
    expect(partialMatch({ a: 1, b: { c: 'x' } }, { a: 1, b: { c: 'x', d: 2 }, e: 3 })).toBe(true);
    expect(partialMatch({ a: 1 }, { a: 2 })).toBe(false);
    expect(partialMatch({ a: undefined }, {})).toBe(false);
    expect(partialMatch([{ m: 'x' }], [{ m: 'x', n: 1 }])).toBe(true);
    expect(partialMatch([{ m: 'x' }], [{ m: 'x' }, { m: 'y' }])).toBe(false);
    expect(partialMatch({}, { anything: true })).toBe(true);
    expect(partialMatch({}, null)).toBe(false);
  });

  it('firstMismatch says where and how values differ', () => {
    expect(firstMismatch({ expression: '2+2' }, { expression: '2+3' })).toBe('expression: expected "2+2", got "2+3"');
    expect(firstMismatch({ a: { b: 1 } }, { a: {} })).toBe('a.b: missing');
    expect(firstMismatch({ a: [1, 2] }, { a: [1] })).toBe('a: expected 2 items, got 1');
    expect(firstMismatch({ a: 1 }, { a: 1, b: 2 })).toBeUndefined();
  });

  it('compileRegex takes a plain pattern or /pattern/flags', () => {
    expect(compileRegex('^a.c$').test('abc')).toBe(true);
    expect(compileRegex('/^ABC$/i').test('abc')).toBe(true);
    expect(compileRegex('/^b$/m').test('a\nb')).toBe(true);
    expect(() => compileRegex('(')).toThrow();
  });
});

describe('status', () => {
  it('defaults to succeeded, or failed when an error is expected', () => {
    expect(expectedStatus(undefined)).toBe('succeeded');
    expect(expectedStatus({ error: { code: 'x' } })).toBe('failed');
    expect(expectedStatus({ status: 'waiting_approval', error: { code: 'x' } })).toBe('waiting_approval');
  });

  it('passes on the expected status and explains a different one with the task\'s error', () => {
    expect(scoreStatus(undefined, obs())).toEqual({ scorer: 'status', pass: true });
    const r = scoreStatus({ status: 'succeeded' }, obs({ status: 'failed', error: { code: 'input_blocked', message: 'the input was blocked' } }));
    expect(r).toEqual({ scorer: 'status', pass: false, reason: 'expected status succeeded, got failed (input_blocked: the input was blocked)' });
  });

  it('reports a case that ran out of time', () => {
    const r = scoreStatus({ status: 'waiting_approval' }, obs({ status: 'running', timedOutAfterMs: 30000 }));
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/no "waiting_approval" within 30000 ms \(last status running\)/);
  });
});

describe('output scorers', () => {
  it('exact compares trimmed text', () => {
    expect(scoreExact('Paris', obs({ output: '  Paris\n' })).pass).toBe(true);
    expect(scoreExact('Paris', obs({ output: 'paris' }))).toEqual({ scorer: 'exact', pass: false, reason: 'expected "Paris", got "paris"' });
    expect(scoreExact('Paris', obs({ output: null, status: 'failed' })).reason).toBe('no output (status failed)');
  });

  it('regex matches anywhere, with flags', () => {
    expect(scoreRegex('100\\s*°C', obs({ output: 'boils at 100 °C' })).pass).toBe(true);
    expect(scoreRegex('/^blue$/im', obs({ output: 'Red\nBlue' })).pass).toBe(true);
    const r = scoreRegex('^\\d+$', obs({ output: 'forty-two' }));
    expect(r.pass).toBe(false);
    expect(r.reason).toContain('does not match /^\\d+$/');
  });

  it('jsonSchema parses the output as JSON and validates it with Ajv', () => {
    const schema = { type: 'object', required: ['city'], properties: { city: { type: 'string' }, population: { type: 'integer' } } };
    expect(scoreJsonSchema(schema, obs({ output: '{"city":"Oslo","population":709037}' })).pass).toBe(true);
    const wrong = scoreJsonSchema(schema, obs({ output: '{"population":"many"}' }));
    expect(wrong.pass).toBe(false);
    expect(wrong.reason).toMatch(/must have required property 'city'/);
    expect(wrong.reason).toMatch(/\/population must be integer/);
    const notJson = scoreJsonSchema(schema, obs({ output: 'Oslo has 709,037 people.' }));
    expect(notJson.reason).toMatch(/^output is not JSON/);
  });
});

describe('error', () => {
  it('matches the code exactly and the message as a regex', () => {
    const o = obs({ status: 'failed', output: null, error: { code: 'step_timeout', message: 'step 1 exceeded its 1500 ms time limit' } });
    expect(scoreError({ code: 'step_timeout', message: '1500 ms' }, o).pass).toBe(true);
    expect(scoreError({ code: 'loop_detected' }, o).reason).toBe('expected error loop_detected, got step_timeout: step 1 exceeded its 1500 ms time limit');
    expect(scoreError({ message: '^nope' }, o).pass).toBe(false);
    expect(scoreError({ code: 'x' }, obs()).reason).toMatch(/the task has none/);
  });
});

describe('tool-use accuracy', () => {
  it('reads the calls in order from model.completed, their arguments from the script, their outcome from tool.completed', () => {
    expect(actualToolCalls(calcTask(), calcScript)).toEqual([
      { step: 1, index: 0, name: 'calculator', arguments: { expression: '17*3' }, outcome: 'ok' },
      { step: 2, index: 0, name: 'calculator', arguments: { expression: '51+9' }, outcome: 'ok' },
    ]);
  });

  it('prefers arguments the events carry', () => {
    const events = calcTask({ ok: true, arguments: { expression: 'from-event' } });
    expect(actualToolCalls(events, calcScript)[1].arguments).toEqual({ expression: 'from-event' });
    expect(actualToolCalls(calcTask(), undefined)[0].arguments).toBeUndefined();
  });

  it('passes the right tools, in order, with partially matching arguments', () => {
    const o = obs({ events: calcTask(), script: calcScript });
    expect(scoreToolCalls([{ name: 'calculator', arguments: { expression: '17*3' } }, { name: 'calculator' }], o)).toEqual({ scorer: 'toolCalls', pass: true, score: 1 });
  });

  it('fails wrong arguments, a missing call, an extra call, and a call that did not run', () => {
    const o = obs({ events: calcTask(), script: calcScript });
    const args = scoreToolCalls([{ name: 'calculator', arguments: { expression: '17*4' } }, { name: 'calculator' }], o);
    expect(args).toMatchObject({ pass: false, score: 0.5 });
    expect(args.reason).toContain('call 1 (calculator) arguments: expression: expected "17*4", got "17*3"');
    expect(scoreToolCalls([{ name: 'calculator' }], o).reason).toContain('1 unexpected call(s): calculator');
    expect(scoreToolCalls([{ name: 'calculator' }, { name: 'calculator' }, { name: 'run_code' }], o).reason).toContain('call 3: expected run_code, there was none');
    const refused = obs({ events: calcTask({ ok: false, error: { code: 'tool_not_allowed' } }), script: calcScript });
    const r = scoreToolCalls([{ name: 'calculator' }, { name: 'calculator' }], refused);
    expect(r.pass).toBe(false);
    expect(r.reason).toContain('call 2 (calculator): expected it to run, it failed (tool_not_allowed)');
    expect(scoreToolCalls([{ name: 'calculator' }, { name: 'calculator', ok: false }], refused).pass).toBe(true);
  });

  it('knows calls that were not run: loop hints, policy blocks, parked approvals', () => {
    const events = [
      ev('step.started', { step: 1 }), ev('model.completed', { toolCalls: ['calculator', 'http_request'] }),
      ev('loop.hint', { step: 1, index: 0, tool: 'calculator' }), ev('policy.blocked', { step: 1, index: 1, tool: 'http_request', arguments: { method: 'POST' } }),
      ev('step.started', { step: 2 }), ev('model.completed', { toolCalls: ['calculator'] }), ev('approval.requested', { step: 2, tool: 'calculator', tier: 'approve' }),
    ];
    expect(actualToolCalls(events).map((c) => [c.name, c.outcome, c.arguments])).toEqual([
      ['calculator', 'not run (loop hint)', undefined],
      ['http_request', 'blocked by policy', { method: 'POST' }],
      ['calculator', 'waiting for approval', undefined],
    ]);
    expect(scoreToolCalls([{ name: 'calculator', arguments: { expression: '1' } }], obs({ events: events.slice(0, 2) })).reason).toMatch(/arguments are not observable/);
  });
});

describe('events', () => {
  const events = calcTask();
  it('finds expected events in order, matching data partially', () => {
    expect(scoreEvents([{ type: 'model.retry', data: { error: { status: 429 } } }, { type: 'task.succeeded' }], obs({ events })).pass).toBe(true);
  });

  it('explains a missing, a mismatched and an out-of-order event', () => {
    expect(scoreEvents([{ type: 'loop.hint' }], obs({ events })).reason).toBe('no event loop.hint');
    expect(scoreEvents([{ type: 'model.retry', data: { error: { status: 503 } } }], obs({ events })).reason).toMatch(/1 model\.retry event\(s\), none matching; first: \{"attempt":1/);
    expect(scoreEvents([{ type: 'task.succeeded' }, { type: 'model.retry' }], obs({ events })).reason).toMatch(/before the previous expected event/);
  });

  it('eventsAbsent fails when a listed event is there', () => {
    expect(scoreEventsAbsent([{ type: 'loop.hint' }], obs({ events })).pass).toBe(true);
    expect(scoreEventsAbsent([{ type: 'model.completed', data: { cache: {} } }], obs({ events })).pass).toBe(true);
    const r = scoreEventsAbsent([{ type: 'model.retry' }], obs({ events }));
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/^unexpected event #\d+ model\.retry/);
  });
});

describe('scoreCase', () => {
  it('runs the status scorer always, and each other scorer the case asks for', () => {
    const results = scoreCase({ expected: { output: 'ok', regex: 'o', toolCalls: [], events: [{ type: 'x' }] } }, obs());
    expect(results.map((r) => [r.scorer, r.pass])).toEqual([['status', true], ['exact', true], ['regex', true], ['toolCalls', true], ['events', false]]);
    expect(scoreCase({}, obs()).map((r) => r.scorer)).toEqual(['status']);
  });
});

describe('the judge', () => {
  it('gets the question, the answer and the criteria, delimited', () => {
    const p = judgePrompt('What is 2+2?', 'Four.', 'States the sum correctly.');
    expect(p).toContain('<question>\nWhat is 2+2?\n</question>');
    expect(p).toContain('<answer>\nFour.\n</answer>');
    expect(p).toContain('<criteria>\nStates the sum correctly.\n</criteria>');
    expect(p).toMatch(/"score"/);
    expect(judgePrompt('q', null, 'c')).toContain('(the agent gave no answer)');
  });

  it('parses a JSON verdict, also inside a code fence or with text around it', () => {
    expect(parseJudgeAnswer('{"score": 0.9, "pass": true, "reason": "right"}')).toEqual({ ok: true, verdict: { score: 0.9, pass: true, reason: 'right' } });
    expect(parseJudgeAnswer('```json\n{"score": 0, "pass": false, "reason": "wrong city"}\n```')).toMatchObject({ ok: true, verdict: { pass: false } });
    expect(parseJudgeAnswer('My verdict: {"score": 1, "pass": true} — done')).toEqual({ ok: true, verdict: { score: 1, pass: true, reason: '' } });
  });

  it('calls anything else unparseable', () => {
    for (const answer of ['Looks good to me!', '{"score": 2, "pass": true, "reason": "x"}', '{"score": 0.5, "pass": "yes"}', '', null]) {
      const r = parseJudgeAnswer(answer);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/^judge answered unparseable output/);
    }
  });
});
