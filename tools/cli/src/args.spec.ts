import { parseCommand, USAGE, UsageError } from './args';

describe('parseCommand', () => {
  it('reads help in all its spellings', () => {
    for (const argv of [[], ['help'], ['--help'], ['-h']]) expect(parseCommand(argv)).toEqual({ cmd: 'help' });
  });

  it('reads submit with every option', () => {
    expect(parseCommand(['submit', 'What is 2+2?', '--agent', 'demo', '--metadata', '{"team":"qa"}', '--idempotency-key', 'k1', '--wait', '--json'])).toEqual({
      cmd: 'submit', input: 'What is 2+2?', agent: 'demo', metadata: { team: 'qa' }, idempotencyKey: 'k1', wait: true, json: true,
    });
  });

  it('joins unquoted words into one input', () => {
    expect(parseCommand(['submit', 'What', 'is', '2+2?'])).toMatchObject({ input: 'What is 2+2?', wait: false, json: false });
  });

  it('puts a validated --script into metadata.script, next to --metadata', () => {
    const c = parseCommand(['submit', 'hi', '--metadata', '{"a":1}', '--script', '[{"toolCalls":[{"name":"calculator","arguments":{"expression":"2+2"}}]},{"content":"4"}]']);
    expect(c).toMatchObject({ metadata: { a: 1, script: [{ toolCalls: [{ name: 'calculator' }] }, { content: '4' }] } });
    expect(parseCommand(['submit', 'hi', '--script', '{"content":"one turn"}'])).toMatchObject({ metadata: { script: [{ content: 'one turn' }] } });
  });

  it.each([
    [['submit'], /the task input is missing/],
    [['submit', 'x', '--metadata', '{'], /--metadata: not valid JSON/],
    [['submit', 'x', '--metadata', '[1]'], /--metadata: expected a JSON object/],
    [['submit', 'x', '--script', '[{"bogus":1}]'], /--script: turn 0: Unrecognized key/],
    [['submit', 'x', '--script', '[]'], /--script: .*>=1|--script: .*at least/i],
    [['submit', 'x', '--wiat'], /Unknown option '--wiat'/],
    [['task'], /task: expected one task id/],
    [['events', 'a', 'b'], /events: expected one task id/],
    [['dead-letters', '--limit', 'x'], /--limit: expected a positive whole number, got "x"/],
    [['dead-letters', '--limit', '0'], /--limit/],
    [['dead-letters', 'extra'], /unexpected argument "extra"/],
    [['frob'], /unknown command "frob"/],
    [['eval'], /eval: the dataset is missing/],
    [['eval', 'd', '--concurrency', '0'], /--concurrency: expected a whole number from 1 to 64, got "0"/],
    [['eval', 'd', '--concurrency', '65'], /--concurrency/],
    [['eval', 'd', '--concurrency', 'many'], /--concurrency/],
    [['eval', 'd', '--judge-agent', 'Judge'], /--judge-agent: "Judge" is not an agent name/],
    [['eval', 'd', '--tags', ' , '], /--tags: expected a comma-separated list/],
    [['eval', 'd', '--html', ''], /--html: expected a file name/],
    [['eval', 'd', '--json'], /--json.*argument missing|option '--json <value>' argument missing/i],
    [['eval', 'd', '--baseline-file', 'x'], /Unknown option '--baseline-file'/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });

  it('reads task, events and dead-letters', () => {
    expect(parseCommand(['task', 'abc', '--json'])).toEqual({ cmd: 'task', id: 'abc', json: true });
    expect(parseCommand(['events', 'abc'])).toEqual({ cmd: 'events', id: 'abc', json: false });
    expect(parseCommand(['dead-letters'])).toEqual({ cmd: 'dead-letters', service: undefined, limit: 20, json: false });
    expect(parseCommand(['dead-letters', '--service', 'router', '--limit', '5', '--json'])).toEqual({ cmd: 'dead-letters', service: 'router', limit: 5, json: true });
  });

  it('reads eval with its defaults and with every option', () => {
    expect(parseCommand(['eval', 'evals/suite'])).toEqual({ cmd: 'eval', datasets: ['evals/suite'], concurrency: 4, judgeAgent: 'judge' });
    expect(parseCommand([
      'eval', 'evals/suite', 'more.yaml', '--concurrency', '8', '--baseline', 'evals/baseline.json', '--save-baseline', 'new.json',
      '--json', 'r.json', '--html', 'r.html', '--judge-agent', 'strict-judge', '--tags', 'retries, tools',
    ])).toEqual({
      cmd: 'eval', datasets: ['evals/suite', 'more.yaml'], concurrency: 8, baseline: 'evals/baseline.json', saveBaseline: 'new.json',
      jsonFile: 'r.json', htmlFile: 'r.html', judgeAgent: 'strict-judge', tags: ['retries', 'tools'],
    });
  });

  it('reads feedback-candidates with its defaults and with every option', () => {
    expect(parseCommand(['feedback-candidates'])).toEqual({ cmd: 'feedback-candidates', limit: 100 });
    expect(parseCommand(['feedback-candidates', '--since', '2026-01-31T00:00:00+01:00', '--agent', 'support', '--limit', '20', '--out', 'cand.jsonl'])).toEqual({
      cmd: 'feedback-candidates', since: '2026-01-30T23:00:00.000Z', agent: 'support', limit: 20, out: 'cand.jsonl',
    });
  });

  it.each([
    [['feedback-candidates', '--since', 'yesterday'], /--since: expected an ISO 8601 date-time/],
    [['feedback-candidates', '--since', '2026-13-45T00:00:00Z'], /--since/],
    [['feedback-candidates', '--agent', 'Support'], /--agent: "Support" is not an agent name/],
    [['feedback-candidates', '--limit', '0'], /--limit: expected a whole number from 1 to 1000/],
    [['feedback-candidates', '--limit', '1001'], /--limit/],
    [['feedback-candidates', '--out', ''], /--out: expected a file name/],
    [['feedback-candidates', 'extra'], /unexpected argument "extra"/],
  ])('rejects feedback-candidates %j', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });

  it('reads replay with its defaults and with every option', () => {
    expect(parseCommand(['replay', 'abc', '--from-step', '2'])).toEqual({ cmd: 'replay', id: 'abc', fromStep: 2, liveTools: false, wait: false, json: false });
    expect(parseCommand([
      'replay', 'abc', '--from-step', '0', '--model', 'scripted/other', '--system-prompt', 'Be brief.', '--agent', 'shop',
      '--metadata', '{"a":1}', '--script', '{"content":"hi"}', '--live-tools', '--wait', '--json',
    ])).toEqual({
      cmd: 'replay', id: 'abc', fromStep: 0, model: 'scripted/other', systemPrompt: 'Be brief.', agent: 'shop',
      metadata: { a: 1, script: [{ content: 'hi' }] }, liveTools: true, wait: true, json: true,
    });
  });

  it.each([
    [['replay', 'abc'], /--from-step is required/],
    [['replay', '--from-step', '1'], /replay: expected one task id/],
    [['replay', 'abc', '--from-step', '-1'], /--from-step: expected a whole number|argument missing|ambiguous/i],
    [['replay', 'abc', '--from-step', 'two'], /--from-step: expected a whole number \(0 or more\), got "two"/],
    [['replay', 'abc', '--from-step', '1', '--model', 'gpt'], /--model: model ids are provider\/model/],
    [['replay', 'abc', '--from-step', '1', '--script', '[]'], /--script/],
    [['replay', 'abc', '--from-step', '1', '--metadata', '[1]'], /--metadata: expected a JSON object/],
  ])('rejects replay %j', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });

  it('documents eval in the usage text', () => {
    expect(USAGE).toMatch(/eval <dataset>/);
    expect(USAGE).toMatch(/--save-baseline <file>/);
    expect(USAGE).toMatch(/feedback-candidates/);
    expect(USAGE).toMatch(/replay <id>/);
    expect(USAGE).toMatch(/--from-step <n>/);
  });
});
