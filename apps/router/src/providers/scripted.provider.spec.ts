import { ScriptSchema } from '@keel/contracts';
import type { ChatMessage, ScriptTurn } from '@keel/contracts';
import { ProviderError } from './provider';
import type { ProviderCall } from './provider';
import { ScriptedProvider } from './scripted.provider';
import { keelFailure } from '@keel/testing';

const messages: ChatMessage[] = [
  { role: 'system', content: 'You are Keel demo.' },
  { role: 'user', content: 'add 2 and 2' },
];

function callWith(turns: ScriptTurn[], overrides: Partial<ProviderCall> = {}): ProviderCall {
  return {
    model: 'default',
    messages,
    tools: [],
    signal: new AbortController().signal,
    attempt: 1,
    script: { turns: ScriptSchema.parse(turns), cursor: 0 },
    ...overrides,
  };
}

const failure = keelFailure;

describe('ScriptedProvider', () => {
  const provider = new ScriptedProvider();

  it('answers with the turn content', async () => {
    const result = await provider.call(callWith([{ content: 'final answer' }]));
    expect(result).toEqual({ content: 'final answer', toolCalls: [], finishReason: 'stop' });
  });

  it('uses turn cursor + attempt - 1', async () => {
    const turns: ScriptTurn[] = [{ content: 'a' }, { content: 'b' }, { content: 'c' }, { content: 'd' }];
    const result = await provider.call(callWith(turns, { attempt: 2, script: { turns, cursor: 1 } }));
    expect(result.content).toBe('c');
  });

  it('returns tool calls with ids numbered across the script', async () => {
    const turns: ScriptTurn[] = [
      { toolCalls: [{ name: 'calculator', arguments: { expression: '2+2' } }] },
      { toolCalls: [{ name: 'calculator', arguments: { expression: '1+1' } }, { id: 'mine', name: 'run_code', arguments: {} }] },
    ];
    const first = await provider.call(callWith(turns));
    expect(first.toolCalls).toEqual([{ id: 'call_1', name: 'calculator', arguments: { expression: '2+2' } }]);
    expect(first.finishReason).toBe('tool_calls');
    expect(first.content).toBeNull();
    const second = await provider.call(callWith(turns, { script: { turns, cursor: 1 } }));
    expect(second.toolCalls.map((c) => c.id)).toEqual(['call_2', 'mine']);
  });

  it('fails with the scripted status and Retry-After', async () => {
    const err = await failure(provider.call(callWith([{ fault: { status: 429, retryAfterMs: 100 } }])));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'provider_error', status: 429, retryAfterMs: 100, retryable: true });
  });

  it.each([[408, true], [500, true], [503, true], [400, false], [401, false], [404, false], [422, false]])(
    'status %i is retryable: %s',
    async (status, retryable) => {
      const err = await failure(provider.call(callWith([{ fault: { status } }])));
      expect(err.retryable).toBe(retryable);
    },
  );

  it('hangs on a timeout fault until the signal aborts, then throws a retryable timeout', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('attempt timeout')), 30);
    const err = await failure(provider.call(callWith([{ fault: { timeout: true } }], { signal: controller.signal })));
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(err).toMatchObject({ code: 'timeout', retryable: true });
  });

  it('reports malformed output as a retryable provider error', async () => {
    const err = await failure(provider.call(callWith([{ fault: { malformed: true } }])));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toMatch(/malformed model output/);
  });

  it('echoes the full prompt, tool results included', async () => {
    const withTool: ChatMessage[] = [
      ...messages,
      { role: 'assistant', content: null, toolCalls: [{ id: 'call_1', name: 'calculator', arguments: { expression: '2+2' } }] },
      { role: 'tool', toolCallId: 'call_1', name: 'calculator', content: '<untrusted>4</untrusted>' },
    ];
    const result = await provider.call(callWith([{ reply: 'echo' }], { messages: withTool }));
    expect(result.content).toContain('system: You are Keel demo.');
    expect(result.content).toContain('user: add 2 and 2');
    expect(result.content).toContain('assistant tool call [call_1] calculator {"expression":"2+2"}');
    expect(result.content).toContain('tool result [call_1] calculator: <untrusted>4</untrusted>');
  });

  it('answers reply "summary" with an extractive summary of the last user message', async () => {
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const prompt: ChatMessage[] = [
      { role: 'system', content: 'You maintain the running summary of a conversation.' },
      { role: 'user', content: 'An older request that is not summarised.' },
      { role: 'assistant', content: 'An answer.' },
      {
        role: 'user',
        content: [
          '<previous_summary>',
          'The user plans a trip to Oslo. They asked about trains.',
          '</previous_summary>',
          '<turns trust="untrusted">',
          'user: I prefer window seats! Also book a hotel.',
          '   ',
          'assistant: Noted, window seats? Yes. Hotel next.',
          `user: ${long}. Second sentence.`,
          '</turns>',
        ].join('\n'),
      },
    ];
    const call = () => provider.call(callWith([{ reply: 'summary', content: 'ignored' }], { messages: prompt }));
    const first = await call();
    expect(first.content).toBe([
      'The user plans a trip to Oslo.',
      'user: I prefer window seats!',
      'assistant: Noted, window seats?',
      `user: ${long.split(' ').slice(0, 29).join(' ')} …`,
    ].join('\n'));
    expect(first.finishReason).toBe('stop');
    // Deterministic: the same prompt, the same summary.
    expect((await call()).content).toBe(first.content);
    // A line of exactly 30 words is kept whole.
    const thirty = Array.from({ length: 30 }, (_, i) => `x${i}`).join(' ');
    const exact = await provider.call(callWith([{ reply: 'summary' }], { messages: [{ role: 'user', content: thirty }] }));
    expect(exact.content).toBe(thirty);
    // No user message: an empty summary, not an error.
    const none = await provider.call(callWith([{ reply: 'summary' }], { messages: [{ role: 'system', content: 'only a system prompt' }] }));
    expect(none.content).toBe('');
  });

  it('waits latencyMs before answering', async () => {
    const started = Date.now();
    await provider.call(callWith([{ content: 'slow', latencyMs: 40 }]));
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
  });

  it('turns latency cut short by the signal into a timeout', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 10);
    const err = await failure(provider.call(callWith([{ content: 'late', latencyMs: 10_000 }], { signal: controller.signal })));
    expect(err).toMatchObject({ code: 'timeout', retryable: true });
  });

  it('passes usage and confidence through', async () => {
    const result = await provider.call(callWith([{ content: 'x', usage: { inputTokens: 11, outputTokens: 7 }, confidence: 0.42 }]));
    expect(result.usage).toEqual({ inputTokens: 11, outputTokens: 7 });
    expect(result.confidence).toBe(0.42);
  });

  it('leaves usage unset when the turn gives none, so the router counts it', async () => {
    const result = await provider.call(callWith([{ content: 'x' }]));
    expect(result.usage).toBeUndefined();
  });

  it('fails with a clear, non-retryable error past the end of the script', async () => {
    const turns: ScriptTurn[] = [{ content: 'a' }, { content: 'b' }];
    const err = await failure(provider.call(callWith(turns, { attempt: 2, script: { turns, cursor: 1 } })));
    expect(err.code).toBe('script_exhausted');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/turn index 2/);
    expect(err.message).toMatch(/only 2 turns/);
    expect(err.details).toMatchObject({ turnIndex: 2, scriptLength: 2 });
  });

  it('refuses a call without a script', async () => {
    const err = await failure(provider.call(callWith([{ content: 'a' }], { script: undefined })));
    expect(err.code).toBe('invalid_request');
    expect(err.message).toMatch(/metadata\.script/);
  });
});
