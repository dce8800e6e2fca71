import { CompleteRequestSchema, CompleteResponseSchema, KeelError } from '@keel/contracts';
import type { CompleteRequest, ScriptTurn } from '@keel/contracts';
import type { ModelProvider } from '../providers/provider';
import { ScriptedProvider } from '../providers/scripted.provider';
import { RetryPolicy } from '../retries/retry-policy';
import { countOutputTokens, countPromptTokens } from '@keel/text';
import { complete } from './complete';
import type { CompleteDeps, CompleteFailureDetails } from './complete';

const T0 = 1_700_000_000_000;

function request(script: ScriptTurn[] | undefined, overrides: Partial<CompleteRequest> = {}): CompleteRequest {
  return CompleteRequestSchema.parse({
    taskId: 'task-1',
    tenant: 'default',
    agent: 'demo',
    step: 1,
    model: 'scripted/default',
    messages: [
      { role: 'system', content: 'You are the Keel demo agent.' },
      { role: 'user', content: 'What is 2+2?' },
    ],
    script,
    deadline: T0 + 60_000,
    ...overrides,
  });
}

/** A clock that only moves when the code under test sleeps: no real waiting. */
function fakeTime(start = T0): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let t = start;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms) => { slept.push(ms); t += ms; }, slept };
}

function deps(overrides: Partial<CompleteDeps> = {}): CompleteDeps & { slept: number[] } {
  const time = fakeTime();
  const providers = new Map<string, ModelProvider>([['scripted', new ScriptedProvider()]]);
  return { providers, policy: new RetryPolicy({ random: () => 0 }), now: time.now, sleep: time.sleep, slept: time.slept, ...overrides };
}

async function failure(promise: Promise<unknown>): Promise<KeelError & { details: CompleteFailureDetails }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof KeelError) return err as KeelError & { details: CompleteFailureDetails };
    throw err;
  }
  throw new Error('expected complete() to fail');
}

describe('complete', () => {
  it('answers a scripted turn with counted usage, cost and one attempt', async () => {
    const req = request([{ content: 'It is 4.' }]);
    const res = await complete(req, deps());
    expect(CompleteResponseSchema.parse(res)).toEqual(res);
    expect(res).toMatchObject({ model: 'scripted/default', content: 'It is 4.', toolCalls: [], finishReason: 'stop', scriptTurnsConsumed: 1 });
    expect(res.attempts).toEqual([{ attempt: 1, latencyMs: 0 }]);
    expect(res.usage).toEqual({ inputTokens: countPromptTokens(req.messages), outputTokens: countOutputTokens('It is 4.') });
    expect(res.costUsd).toBeCloseTo((res.usage.inputTokens * 0.15 + res.usage.outputTokens * 0.6) / 1e6, 12);
  });

  it('retries a 429 after exactly its Retry-After, then succeeds', async () => {
    const d = deps();
    const res = await complete(request([{ fault: { status: 429, retryAfterMs: 100 } }, { content: 'ok' }]), d);
    expect(res.content).toBe('ok');
    expect(d.slept).toEqual([100]);
    expect(res.attempts).toEqual([
      { attempt: 1, latencyMs: 0, error: { code: 'provider_error', message: 'scripted fault: HTTP 429', status: 429 }, delayMs: 100 },
      { attempt: 2, latencyMs: 0 },
    ]);
    expect(res.scriptTurnsConsumed).toBe(2);
  });

  it('does not retry a 400 and reports the attempt in the error details', async () => {
    const d = deps();
    const err = await failure(complete(request([{ fault: { status: 400 } }, { content: 'never reached' }]), d));
    expect(err.code).toBe('provider_error');
    expect(err.retryable).toBe(false);
    expect(d.slept).toEqual([]);
    expect(err.details).toMatchObject({ model: 'scripted/default', status: 400, scriptTurnsConsumed: 1 });
    expect(err.details.attempts).toEqual([{ attempt: 1, latencyMs: 0, error: { code: 'provider_error', message: 'scripted fault: HTTP 400', status: 400 } }]);
  });

  it('aborts a hanging model at the attempt timeout and retries', async () => {
    const d = deps({ now: Date.now, attemptTimeoutMs: 50 });
    const started = Date.now();
    const res = await complete(request([{ fault: { timeout: true } }, { content: 'ok' }], { deadline: Date.now() + 60_000 }), d);
    expect(res.content).toBe('ok');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.attempts[0].error).toMatchObject({ code: 'timeout' });
    expect(res.attempts[0].error?.message).toMatch(/timed out after 50 ms \(the attempt timeout\)/);
    expect(res.attempts[0].latencyMs).toBeGreaterThanOrEqual(45);
    expect(d.slept).toEqual([1000]);
  });

  it('times out a provider that ignores its abort signal', async () => {
    const stubborn: ModelProvider = { id: 'stubborn', call: () => new Promise(() => undefined) };
    const d = deps({ now: Date.now, attemptTimeoutMs: 30, policy: new RetryPolicy({ retries: 0 }), providers: new Map([['stubborn', stubborn]]) });
    const err = await failure(complete(request(undefined, { model: 'stubborn/x', deadline: Date.now() + 60_000 }), d));
    expect(err.code).toBe('timeout');
    expect(err.details.attempts).toHaveLength(1);
  });

  it('retries malformed output with exponential backoff', async () => {
    const d = deps();
    const res = await complete(request([{ fault: { malformed: true } }, { fault: { malformed: true } }, { content: 'ok' }]), d);
    expect(res.content).toBe('ok');
    expect(d.slept).toEqual([1000, 2000]);
    expect(res.attempts.map((a) => a.error?.message)).toEqual(['malformed model output (scripted fault)', 'malformed model output (scripted fault)', undefined]);
  });

  it('gives up after 3 retries with the last error and every attempt', async () => {
    const d = deps();
    const script: ScriptTurn[] = [...Array.from({ length: 4 }, () => ({ fault: { status: 503 } })), { content: 'too late' }];
    const err = await failure(complete(request(script), d));
    expect(d.slept).toEqual([1000, 2000, 4000]);
    expect(err).toMatchObject({ code: 'provider_error', message: 'scripted fault: HTTP 503', retryable: true });
    expect(err.details.attempts.map((a) => a.delayMs)).toEqual([1000, 2000, 4000, undefined]);
    expect(err.details.scriptTurnsConsumed).toBe(4);
  });

  it('never sleeps past the deadline', async () => {
    const d = deps();
    const err = await failure(complete(request([{ fault: { status: 503 } }, { fault: { status: 503 } }, { content: 'ok' }], { deadline: T0 + 1500 }), d));
    // 1 s backoff fits before the deadline; the 2 s one would not.
    expect(d.slept).toEqual([1000]);
    expect(err.code).toBe('timeout');
    expect(err.message).toMatch(/after the deadline/);
    expect(err.details.attempts).toHaveLength(2);
    expect(err.details.scriptTurnsConsumed).toBe(2);
  });

  it('does not wait out a Retry-After that ends past the deadline', async () => {
    const d = deps();
    const err = await failure(complete(request([{ fault: { status: 429, retryAfterMs: 5000 } }, { content: 'ok' }], { deadline: T0 + 3000 }), d));
    expect(err.code).toBe('timeout');
    expect(d.slept).toEqual([]);
  });

  it('cuts an attempt short at the request deadline', async () => {
    const d = deps({ now: Date.now });
    const started = Date.now();
    const err = await failure(complete(request([{ fault: { timeout: true } }, { content: 'ok' }], { deadline: Date.now() + 60 }), d));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err.code).toBe('timeout');
    expect(err.details.attempts[0].error?.message).toMatch(/\(the request deadline\)/);
  });

  it('makes no call when the deadline has already passed', async () => {
    const err = await failure(complete(request([{ content: 'ok' }], { deadline: T0 - 1 }), deps()));
    expect(err.code).toBe('timeout');
    expect(err.details).toMatchObject({ attempts: [], scriptTurnsConsumed: 0 });
  });

  it('echoes the assembled prompt, system prompt and tool results included', async () => {
    const req = request([{ reply: 'echo' }], {
      messages: [
        { role: 'system', content: 'You are the Keel demo agent.' },
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: null, toolCalls: [{ id: 'call_1', name: 'calculator', arguments: { expression: '2+2' } }] },
        { role: 'tool', toolCallId: 'call_1', name: 'calculator', content: '4' },
      ],
    });
    const res = await complete(req, deps());
    expect(res.content).toContain('system: You are the Keel demo agent.');
    expect(res.content).toContain('tool result [call_1] calculator: 4');
  });

  it('fails clearly when the script runs out, without retrying', async () => {
    const d = deps();
    const err = await failure(complete(request([{ content: 'a' }, { fault: { status: 503 } }], { scriptCursor: 1 }), d));
    expect(err.code).toBe('script_exhausted');
    expect(err.message).toMatch(/turn index 2 .*only 2 turns/);
    expect(d.slept).toEqual([1000]);
    expect(err.details.attempts).toHaveLength(2);
    expect(err.details.scriptTurnsConsumed).toBe(1);
  });

  it('starts at the script cursor', async () => {
    const res = await complete(request([{ content: 'first' }, { content: 'second' }], { scriptCursor: 1 }), deps());
    expect(res.content).toBe('second');
    expect(res.scriptTurnsConsumed).toBe(1);
  });

  it('returns tool calls with finishReason tool_calls', async () => {
    const res = await complete(request([{ toolCalls: [{ name: 'calculator', arguments: { expression: '2+2' } }] }]), deps());
    expect(res.finishReason).toBe('tool_calls');
    expect(res.content).toBeNull();
    expect(res.toolCalls).toEqual([{ id: 'call_1', name: 'calculator', arguments: { expression: '2+2' } }]);
  });

  it('uses scripted usage for the cost and passes confidence through', async () => {
    const res = await complete(request([{ content: 'x', usage: { inputTokens: 1000, outputTokens: 500 }, confidence: 0.7 }]), deps());
    expect(res.usage).toEqual({ inputTokens: 1000, outputTokens: 500 });
    expect(res.costUsd).toBe(0.00045);
    expect(res.confidence).toBe(0.7);
  });

  it('names an unknown provider', async () => {
    const err = await failure(complete(request(undefined, { model: 'mistral/large' }), deps()));
    expect(err.code).toBe('invalid_request');
    expect(err.message).toMatch(/unknown model provider "mistral".*configured providers: scripted/);
  });

  it('costs an unpriced model 0 and reports it', async () => {
    const local: ModelProvider = { id: 'ollama', call: async () => ({ content: 'hi', toolCalls: [], usage: { inputTokens: 10, outputTokens: 2 } }) };
    const unpriced: string[] = [];
    const d = deps({ providers: new Map([['ollama', local]]), onUnpricedModel: (m) => unpriced.push(m) });
    const res = await complete(request(undefined, { model: 'ollama/llama3' }), d);
    expect(res).toMatchObject({ content: 'hi', costUsd: 0, scriptTurnsConsumed: 0, usage: { inputTokens: 10, outputTokens: 2 } });
    expect(unpriced).toEqual(['ollama/llama3']);
  });

  it('does not retry an adapter bug (a non-Keel error)', async () => {
    const buggy: ModelProvider = { id: 'buggy', call: async () => { throw new TypeError('cannot read properties of undefined'); } };
    const d = deps({ providers: new Map([['buggy', buggy]]) });
    const err = await failure(complete(request(undefined, { model: 'buggy/x' }), d));
    expect(err.code).toBe('provider_error');
    expect(err.retryable).toBe(false);
    expect(d.slept).toEqual([]);
  });
});
