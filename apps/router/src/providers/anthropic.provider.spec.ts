import { CompleteRequestSchema } from '@keel/contracts';
import type { ChatMessage, CompleteRequest, ToolSpec } from '@keel/contracts';
import { complete } from '../completion/complete';
import { RetryPolicy } from '../retries/retry-policy';
import { AnthropicProvider, fromAnthropicMessage, toAnthropicRequest } from './anthropic.provider';
import type { AnthropicOptions } from './anthropic.provider';
import { ProviderError } from './provider';
import type { ProviderCall } from './provider';
import { FakeAnthropicServer, keelFailure } from '@keel/testing';

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are Keel.' },
  { role: 'system', content: 'Answer briefly.' },
  { role: 'user', content: 'What is 2+2 and 3+3?' },
  {
    role: 'assistant',
    content: 'Computing.',
    toolCalls: [
      { id: 'toolu_1', name: 'calculator', arguments: { expression: '2+2' } },
      { id: 'toolu_2', name: 'calculator', arguments: { expression: '3+3' } },
    ],
  },
  { role: 'tool', toolCallId: 'toolu_1', name: 'calculator', content: '4' },
  { role: 'tool', toolCallId: 'toolu_2', name: 'calculator', content: '6' },
  { role: 'user', content: 'Thanks, and now?' },
];
const tools: ToolSpec[] = [
  { name: 'calculator', description: 'Evaluates arithmetic', parameters: { type: 'object', properties: { expression: { type: 'string' } } } },
];

const failure = keelFailure;

describe('Anthropic wire mapping', () => {
  it('separates the system prompt and maps tool use and results', () => {
    expect(toAnthropicRequest('claude-3-5-haiku', conversation, tools, { stream: false, maxTokens: 1000 })).toEqual({
      model: 'claude-3-5-haiku',
      max_tokens: 1000,
      system: 'You are Keel.\n\nAnswer briefly.',
      messages: [
        { role: 'user', content: 'What is 2+2 and 3+3?' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Computing.' },
            { type: 'tool_use', id: 'toolu_1', name: 'calculator', input: { expression: '2+2' } },
            { type: 'tool_use', id: 'toolu_2', name: 'calculator', input: { expression: '3+3' } },
          ],
        },
        // All results of one tool-use turn in one user turn, before any text.
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: '4' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: '6' },
            { type: 'text', text: 'Thanks, and now?' },
          ],
        },
      ],
      tools: [{ name: 'calculator', description: 'Evaluates arithmetic', input_schema: tools[0].parameters }],
    });
  });

  it('sends no empty text block, no empty tools list, and stream only when asked', () => {
    const body = toAnthropicRequest('m', [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, toolCalls: [{ id: 't', name: 'x', arguments: {} }] },
    ], [], { stream: true, maxTokens: 10 });
    expect(body).toEqual({
      model: 'm', max_tokens: 10, stream: true,
      messages: [{ role: 'user', content: 'go' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'x', input: {} }] }],
    });
  });

  it('maps a message with text and tool_use back, with cached tokens counted as input', () => {
    expect(fromAnthropicMessage('anthropic', {
      id: 'msg_1', type: 'message', role: 'assistant',
      content: [
        { type: 'thinking', thinking: '…', signature: 's' },
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_9', name: 'calculator', input: { expression: '1+1' } },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 5, cache_creation_input_tokens: 0 },
    })).toEqual({
      content: 'Let me check.',
      toolCalls: [{ id: 'toolu_9', name: 'calculator', arguments: { expression: '1+1' } }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 15, outputTokens: 20, cachedInputTokens: 5 },
    });
  });

  it('maps max_tokens to length', () => {
    expect(fromAnthropicMessage('anthropic', { content: [{ type: 'text', text: 'abc' }], stop_reason: 'max_tokens', usage: { input_tokens: 1, output_tokens: 2 } }))
      .toMatchObject({ content: 'abc', finishReason: 'length' });
  });

  it('treats a message of the wrong shape as a retryable malformed answer', async () => {
    const err = await failure(Promise.resolve().then(() => fromAnthropicMessage('anthropic', { content: 'nope' })));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
  });
});

describe('AnthropicProvider against a fake server', () => {
  let server: FakeAnthropicServer;
  beforeEach(async () => {
    server = await new FakeAnthropicServer().start();
  });
  afterEach(async () => {
    await server.close();
  });

  const provider = (options: Partial<AnthropicOptions> = {}): AnthropicProvider =>
    new AnthropicProvider({ id: 'anthropic', baseUrl: server.baseUrl, apiKey: 'sk-ant-test', ...options });
  const call = (overrides: Partial<ProviderCall> = {}): ProviderCall =>
    ({ model: 'claude-3-5-haiku', messages: conversation, tools, signal: new AbortController().signal, attempt: 1, ...overrides });

  it('lowers max_tokens to a budget\'s output cap', async () => {
    server.enqueue({ kind: 'ok', content: 'a' }, { kind: 'ok', content: 'b' });
    await provider({ stream: false }).call(call({ maxOutputTokens: 256 }));
    await provider({ stream: false }).call(call());
    expect(server.requests.map((r) => (r.body as { max_tokens: number }).max_tokens)).toEqual([256, 4096]);
  });

  it('sends the key and version headers and reads a plain message', async () => {
    server.enqueue({ kind: 'ok', content: 'It is 4.', usage: { inputTokens: 30, outputTokens: 5 } });
    const result = await provider({ stream: false }).call(call());
    expect(result).toEqual({ content: 'It is 4.', toolCalls: [], finishReason: 'stop', usage: { inputTokens: 30, outputTokens: 5 } });
    const [req] = server.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/v1/messages' });
    expect(req.headers['x-api-key']).toBe('sk-ant-test');
    expect(req.headers['anthropic-version']).toBe('2023-06-01');
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toEqual(toAnthropicRequest('claude-3-5-haiku', conversation, tools, { stream: false, maxTokens: 4096 }));
  });

  it('streams text and tool_use (input_json_delta), with usage and time to first token', async () => {
    let clock = 0;
    server.enqueue({
      kind: 'ok',
      content: 'Let me compute that.',
      toolCalls: [{ id: 'toolu_a', name: 'calculator', arguments: { expression: '2+2' } }, { name: 'search', arguments: { q: 'two', n: 3 } }],
      usage: { inputTokens: 40, outputTokens: 12 },
      delayMs: 30,
    });
    const started = Date.now();
    const result = await provider({ now: () => (clock = Date.now() - started) }).call(call());
    expect(result).toEqual({
      content: 'Let me compute that.',
      toolCalls: [
        { id: 'toolu_a', name: 'calculator', arguments: { expression: '2+2' } },
        { id: 'toolu_fake_1', name: 'search', arguments: { q: 'two', n: 3 } },
      ],
      finishReason: 'tool_calls',
      usage: { inputTokens: 40, outputTokens: 12 },
      ttftMs: expect.any(Number),
    });
    expect(result.ttftMs).toBeGreaterThanOrEqual(25);
    expect(result.ttftMs).toBeLessThanOrEqual(clock);
    expect(server.requests[0].body).toMatchObject({ stream: true });
  });

  it('measures a positive TTFT with the real clock', async () => {
    server.enqueue({ kind: 'ok', content: 'hi', delayMs: 5 });
    const result = await provider().call(call());
    expect(result.content).toBe('hi');
    expect(result.ttftMs).toBeGreaterThan(0);
  });

  it('treats a stream without message_stop as a retryable failure, never as a partial answer', async () => {
    server.enqueue({ kind: 'truncated' });
    const err = await failure(provider().call(call()));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toContain('truncated stream');
  });

  it.each([true, false])('treats malformed JSON as a retryable failure (stream: %s)', async (stream) => {
    server.enqueue({ kind: 'malformed' });
    const err = await failure(provider({ stream }).call(call()));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toContain('malformed');
  });

  it('treats invalid streamed tool input JSON as retryable', async () => {
    server.enqueue({ kind: 'ok', toolCalls: [{ name: 'calculator', arguments: '{"expression": 2+' }] });
    const err = await failure(provider().call(call()));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toContain('calculator');
  });

  it('maps an overloaded_error event inside a 200 stream to a retryable 529', async () => {
    server.enqueue({ kind: 'stream_error' });
    const err = await failure(provider().call(call()));
    expect(err).toMatchObject({ code: 'provider_error', status: 529, retryable: true });
    expect(err.message).toContain('overloaded_error');
  });

  it('maps HTTP 529 with the provider message', async () => {
    server.enqueue({ kind: 'status', status: 529, message: 'Overloaded' });
    const err = await failure(provider().call(call()));
    expect(err).toMatchObject({ code: 'provider_error', status: 529, retryable: true });
    expect(err.message).toBe('anthropic: HTTP 529: overloaded_error: Overloaded');
  });
});

describe('AnthropicProvider through complete()', () => {
  let server: FakeAnthropicServer;
  let slept: number[];
  beforeEach(async () => {
    server = await new FakeAnthropicServer().start();
    slept = [];
  });
  afterEach(async () => {
    await server.close();
  });

  function run(options: { retries?: number; attemptTimeoutMs?: number } = {}): ReturnType<typeof complete> {
    const req: CompleteRequest = CompleteRequestSchema.parse({
      taskId: 't1', tenant: 'default', agent: 'demo', step: 1, model: 'anthropic/claude-3-5-haiku',
      messages: conversation, tools, deadline: Date.now() + 60_000,
    });
    const policy = new RetryPolicy({ retries: options.retries ?? 3, random: () => 0, sleep: async (ms) => { slept.push(ms); } });
    const anthropic = new AnthropicProvider({ id: 'anthropic', baseUrl: server.baseUrl, apiKey: 'k' });
    return complete(req, { providers: new Map([['anthropic', anthropic]]), policy, attemptTimeoutMs: options.attemptTimeoutMs });
  }

  it('retries a 429 after its Retry-After HTTP date (to the second), then succeeds', async () => {
    const inThreeSeconds = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3000).toUTCString();
    server.enqueue({ kind: 'status', status: 429, retryAfter: inThreeSeconds }, { kind: 'ok', content: 'ok', usage: { inputTokens: 9, outputTokens: 1 } });
    const res = await run();
    expect(res.content).toBe('ok');
    expect(res.usage).toEqual({ inputTokens: 9, outputTokens: 1 });
    expect(slept).toHaveLength(1);
    expect(slept[0]).toBeGreaterThan(2000);
    expect(slept[0]).toBeLessThanOrEqual(4000);
  });

  it('retries a 429 after Retry-After seconds', async () => {
    server.enqueue({ kind: 'status', status: 429, retryAfter: 1 }, { kind: 'ok', content: 'ok' });
    await run();
    expect(slept).toEqual([1000]);
  });

  it('does not retry a 400', async () => {
    server.enqueue({ kind: 'status', status: 400 }, { kind: 'ok', content: 'never' });
    const err = await failure(run());
    expect(err).toMatchObject({ code: 'provider_error', retryable: false });
    expect(server.requests).toHaveLength(1);
    expect(slept).toEqual([]);
  });

  it('retries 500, 503 and an overloaded stream', async () => {
    server.enqueue({ kind: 'status', status: 500 }, { kind: 'status', status: 503 }, { kind: 'stream_error' }, { kind: 'ok', content: 'ok' });
    const res = await run();
    expect(res.content).toBe('ok');
    expect(res.attempts.map((a) => a.error?.status)).toEqual([500, 503, 529, undefined]);
  });

  it('aborts a hung request at the attempt timeout and retries', async () => {
    server.enqueue({ kind: 'hang' }, { kind: 'ok', content: 'ok' });
    const res = await run({ attemptTimeoutMs: 150 });
    expect(res.content).toBe('ok');
    expect(res.attempts[0].error).toMatchObject({ code: 'timeout' });
    expect(res.attempts[0].latencyMs).toBeGreaterThanOrEqual(140);
  });

  it('fails on a truncated stream when no retry is left', async () => {
    server.enqueue({ kind: 'truncated' });
    const err = await failure(run({ retries: 0 }));
    expect(err.message).toContain('truncated stream');
  });

  it('retries malformed JSON, then answers', async () => {
    server.enqueue({ kind: 'malformed' }, { kind: 'ok', content: 'ok' });
    const res = await run();
    expect(res.content).toBe('ok');
    expect(res.attempts[0].error?.message).toContain('malformed');
  });
});

describe('Anthropic prompt-cache usage', () => {
  it('counts cache reads in the input and reports them as cached', () => {
    const result = fromAnthropicMessage('anthropic', {
      content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn',
      usage: { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 5 },
    });
    expect(result.usage).toEqual({ inputTokens: 100, outputTokens: 5, cachedInputTokens: 90 });
  });
});
