import { CompleteRequestSchema } from '@keel/contracts';
import type { ChatMessage, CompleteRequest, ToolSpec } from '@keel/contracts';
import { complete } from '../completion/complete';
import { RetryPolicy } from '../retries/retry-policy';
import { fromOpenAiCompletion, OpenAiCompatibleProvider, toOpenAiRequest } from './openai.provider';
import type { OpenAiCompatibleOptions } from './openai.provider';
import { ProviderError } from './provider';
import type { ProviderCall } from './provider';
import { FakeOpenAiServer, keelFailure } from '@keel/testing';
import { quote } from '../pricing/price-table';

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are Keel.' },
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: null, toolCalls: [{ id: 'call_1', name: 'calculator', arguments: { expression: '2+2' } }] },
  { role: 'tool', toolCallId: 'call_1', name: 'calculator', content: '4' },
];
const tools: ToolSpec[] = [
  { name: 'calculator', description: 'Evaluates arithmetic', parameters: { type: 'object', properties: { expression: { type: 'string' } }, required: ['expression'] } },
];

const failure = keelFailure;

describe('OpenAI wire mapping', () => {
  it('maps Keel messages and tools to chat completions', () => {
    expect(toOpenAiRequest('gpt-4o-mini', conversation, tools, false)).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are Keel.' },
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'calculator', arguments: '{"expression":"2+2"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '4' },
      ],
      tools: [{ type: 'function', function: { name: 'calculator', description: 'Evaluates arithmetic', parameters: tools[0].parameters } }],
    });
  });

  it('leaves out an empty tools list and asks a stream for usage', () => {
    const body = toOpenAiRequest('m', [{ role: 'user', content: 'hi' }], [], true);
    expect(body).toEqual({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
  });

  it('maps a completion with tool calls back, parsing JSON arguments', () => {
    const result = fromOpenAiCompletion('openai', {
      choices: [{
        message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'calculator', arguments: '{"expression":"2+2"}' } }] },
        finish_reason: 'tool_calls',
      }],
      usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
    });
    expect(result).toEqual({
      content: null,
      toolCalls: [{ id: 'call_a', name: 'calculator', arguments: { expression: '2+2' } }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 12, outputTokens: 7 },
    });
  });

  it('maps finish_reason length and an answer without usage', () => {
    expect(fromOpenAiCompletion('openai', { choices: [{ message: { content: 'abc' }, finish_reason: 'length' }] }))
      .toEqual({ content: 'abc', toolCalls: [], finishReason: 'length' });
  });

  it('treats invalid tool-call arguments and a missing choice as retryable malformed answers', async () => {
    const bad = (): unknown => fromOpenAiCompletion('openai', { choices: [{ message: { tool_calls: [{ id: 'x', function: { name: 'calc', arguments: '{"a":' } }] } }] });
    const err = await failure(Promise.resolve().then(bad));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toMatch(/malformed.*calc/);
    const empty = await failure(Promise.resolve().then(() => fromOpenAiCompletion('openai', { choices: [] })));
    expect(empty).toMatchObject({ code: 'provider_error', retryable: true });
  });
});

describe('OpenAiCompatibleProvider against a fake server', () => {
  let server: FakeOpenAiServer;
  beforeEach(async () => {
    server = await new FakeOpenAiServer().start();
  });
  afterEach(async () => {
    await server.close();
  });

  const provider = (options: Partial<OpenAiCompatibleOptions> = {}): OpenAiCompatibleProvider =>
    new OpenAiCompatibleProvider({ id: 'openai', baseUrl: server.baseUrl, apiKey: 'sk-test', ...options });
  const call = (overrides: Partial<ProviderCall> = {}): ProviderCall =>
    ({ model: 'gpt-4o-mini', messages: conversation, tools, signal: new AbortController().signal, attempt: 1, ...overrides });

  it('sends a budget\'s output cap as max_tokens, and none otherwise', async () => {
    server.enqueue({ kind: 'ok', content: 'a' }, { kind: 'ok', content: 'b' });
    await provider({ stream: false }).call(call({ maxOutputTokens: 256 }));
    await provider({ stream: false }).call(call());
    expect(server.requests.map((r) => (r.body as { max_tokens?: number }).max_tokens)).toEqual([256, undefined]);
  });

  it('asks for logprobs only when a cascade wants a confidence, and reports exp(mean logprob) of the content tokens', async () => {
    const lp = [Math.log(0.9), Math.log(0.5), Math.log(0.8)];
    server.enqueue(
      { kind: 'ok', content: 'plain', logprobs: lp },
      { kind: 'ok', content: 'plain answer', logprobs: lp },
      { kind: 'ok', content: 'a streamed answer here', logprobs: lp },
    );
    const none = await provider({ stream: false }).call(call());
    const plain = await provider({ stream: false }).call(call({ wantConfidence: true }));
    const streamed = await provider().call(call({ wantConfidence: true }));
    expect(server.requests.map((r) => (r.body as { logprobs?: boolean }).logprobs)).toEqual([undefined, true, true]);
    const expected = Math.round(Math.cbrt(0.9 * 0.5 * 0.8) * 1000) / 1000;
    expect(none.confidence).toBeUndefined();
    expect(plain.confidence).toBe(expected);
    expect(streamed.confidence).toBe(expected);
  });

  it('sends the request with the key and reads a plain completion with usage', async () => {
    server.enqueue({ kind: 'ok', content: 'It is 4.', usage: { inputTokens: 30, outputTokens: 5 } });
    const result = await provider({ stream: false }).call(call());
    expect(result).toEqual({ content: 'It is 4.', toolCalls: [], finishReason: 'stop', usage: { inputTokens: 30, outputTokens: 5 } });
    const [req] = server.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(req.headers.authorization).toBe('Bearer sk-test');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toEqual(toOpenAiRequest('gpt-4o-mini', conversation, tools, false));
  });

  it('streams content and tool calls, with usage and time to first token', async () => {
    let clock = 0;
    server.enqueue({
      kind: 'ok',
      content: 'Let me compute that.',
      toolCalls: [{ id: 'call_x', name: 'calculator', arguments: { expression: '2+2' } }, { name: 'search', arguments: { q: 'two' } }],
      usage: { inputTokens: 40, outputTokens: 12 },
      delayMs: 30,
    });
    const started = Date.now();
    const result = await provider({ now: () => (clock = Date.now() - started) }).call(call());
    expect(result).toEqual({
      content: 'Let me compute that.',
      toolCalls: [
        { id: 'call_x', name: 'calculator', arguments: { expression: '2+2' } },
        { id: 'call_fake_1', name: 'search', arguments: { q: 'two' } },
      ],
      finishReason: 'tool_calls',
      usage: { inputTokens: 40, outputTokens: 12 },
      ttftMs: expect.any(Number),
    });
    // The first token came after the server's 30 ms pause, and before the stream ended.
    expect(result.ttftMs).toBeGreaterThanOrEqual(25);
    expect(result.ttftMs).toBeLessThanOrEqual(clock);
    expect(server.requests[0].headers.accept).toBe('text/event-stream');
    expect(server.requests[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('measures a positive TTFT with the real clock', async () => {
    server.enqueue({ kind: 'ok', content: 'hi', delayMs: 5 });
    const result = await provider().call(call());
    expect(result.content).toBe('hi');
    expect(result.ttftMs).toBeGreaterThan(0);
    expect(result.usage).toBeUndefined(); // the router counts tokens itself then
  });

  it('treats a truncated stream as a retryable failure, never as a partial answer', async () => {
    server.enqueue({ kind: 'truncated' });
    const err = await failure(provider().call(call()));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toContain('truncated stream');
  });

  it('treats a plain body cut off mid-way as a retryable failure', async () => {
    server.enqueue({ kind: 'truncated' });
    const err = await failure(provider({ stream: false }).call(call()));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
  });

  it.each([true, false])('treats malformed JSON as a retryable failure (stream: %s)', async (stream) => {
    server.enqueue({ kind: 'malformed' });
    const err = await failure(provider({ stream }).call(call()));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toContain('malformed');
  });

  it.each([true, false])('treats invalid tool-call arguments as retryable (stream: %s)', async (stream) => {
    server.enqueue({ kind: 'ok', toolCalls: [{ name: 'calculator', arguments: '{"expression": 2+' }] });
    const err = await failure(provider({ stream }).call(call()));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toContain('calculator');
  });

  it('fails on an error reported inside the stream', async () => {
    server.enqueue({ kind: 'stream_error', message: 'boom' });
    const err = await failure(provider().call(call()));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toContain('boom');
  });

  it('maps an HTTP error with its status, Retry-After and the provider message', async () => {
    server.enqueue({ kind: 'status', status: 429, retryAfter: 2, message: 'Rate limit reached' });
    const err = await failure(provider().call(call()));
    expect(err).toMatchObject({ code: 'provider_error', status: 429, retryAfterMs: 2000, retryable: true });
    expect(err.message).toBe('openai: HTTP 429: rate_limit_exceeded: Rate limit reached');
  });

  it('reports a refused connection as a retryable provider error', async () => {
    const origin = server.baseUrl;
    await server.close();
    const err = await failure(new OpenAiCompatibleProvider({ id: 'openai', baseUrl: origin }).call(call()));
    expect(err).toMatchObject({ code: 'provider_error', retryable: true });
    expect(err.message).toMatch(/ECONNREFUSED|fetch failed/);
    server = await new FakeOpenAiServer().start(); // for afterEach
  });

  it('sends no Authorization header when there is no key (a local server)', async () => {
    server.enqueue({ kind: 'ok', content: 'hi' });
    await provider({ apiKey: undefined }).call(call());
    expect(server.requests[0].headers.authorization).toBeUndefined();
  });
});

describe('OpenAiCompatibleProvider through complete()', () => {
  let server: FakeOpenAiServer;
  let slept: number[];
  beforeEach(async () => {
    server = await new FakeOpenAiServer().start();
    slept = [];
  });
  afterEach(async () => {
    await server.close();
  });

  function run(options: { retries?: number; attemptTimeoutMs?: number; stream?: boolean } = {}): ReturnType<typeof complete> {
    const req: CompleteRequest = CompleteRequestSchema.parse({
      taskId: 't1', tenant: 'default', agent: 'demo', step: 1, model: 'openai/gpt-4o-mini',
      messages: conversation, tools, deadline: Date.now() + 60_000,
    });
    // The injected sleep records the delays the policy chose, without waiting.
    const policy = new RetryPolicy({ retries: options.retries ?? 3, random: () => 0, sleep: async (ms) => { slept.push(ms); } });
    const openai = new OpenAiCompatibleProvider({ id: 'openai', baseUrl: server.baseUrl, apiKey: 'sk-test', stream: options.stream });
    return complete(req, { providers: new Map([['openai', openai]]), policy, attemptTimeoutMs: options.attemptTimeoutMs });
  }

  it('retries a 429 after exactly its Retry-After, then succeeds', async () => {
    server.enqueue({ kind: 'status', status: 429, retryAfter: 2 }, { kind: 'ok', content: 'It is 4.', usage: { inputTokens: 30, outputTokens: 4 } });
    const res = await run();
    expect(res.content).toBe('It is 4.');
    expect(res.usage).toEqual({ inputTokens: 30, outputTokens: 4 });
    expect(slept).toEqual([2000]);
    expect(res.attempts).toHaveLength(2);
    expect(res.attempts[0]).toMatchObject({ error: { code: 'provider_error', status: 429 }, delayMs: 2000 });
    expect(server.requests).toHaveLength(2);
  });

  it('uses retry-after-ms over Retry-After', async () => {
    server.enqueue({ kind: 'status', status: 429, retryAfterMs: 150, retryAfter: 9 }, { kind: 'ok', content: 'ok' });
    await run();
    expect(slept).toEqual([150]);
  });

  it('does not retry a 400', async () => {
    server.enqueue({ kind: 'status', status: 400, message: 'bad tool schema' }, { kind: 'ok', content: 'never' });
    const err = await failure(run());
    expect(err).toMatchObject({ code: 'provider_error', retryable: false });
    expect(err.message).toContain('bad tool schema');
    expect(slept).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it('retries 500 and 503 with backoff', async () => {
    server.enqueue({ kind: 'status', status: 500 }, { kind: 'status', status: 503 }, { kind: 'ok', content: 'ok' });
    const res = await run();
    expect(res.content).toBe('ok');
    expect(slept).toEqual([1000, 2000]);
    expect(res.attempts.map((a) => a.error?.status)).toEqual([500, 503, undefined]);
  });

  it('aborts a hung request at the attempt timeout and retries', async () => {
    server.enqueue({ kind: 'hang' }, { kind: 'ok', content: 'ok' });
    const started = Date.now();
    const res = await run({ attemptTimeoutMs: 150 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(res.content).toBe('ok');
    expect(res.attempts[0].error).toMatchObject({ code: 'timeout' });
    expect(res.attempts[0].latencyMs).toBeGreaterThanOrEqual(140);
  });

  it('retries malformed JSON', async () => {
    server.enqueue({ kind: 'malformed' }, { kind: 'ok', content: 'ok' });
    const res = await run({ stream: false });
    expect(res.content).toBe('ok');
    expect(res.attempts[0].error?.message).toContain('malformed');
  });

  it('fails on a truncated stream when no retry is left, with no partial content', async () => {
    server.enqueue({ kind: 'truncated' });
    const err = await failure(run({ retries: 0 }));
    expect(err.code).toBe('provider_error');
    expect(err.message).toContain('truncated stream');
  });

  it('retries a truncated stream and answers with the complete one', async () => {
    server.enqueue({ kind: 'truncated' }, { kind: 'ok', content: 'the whole answer' });
    const res = await run();
    expect(res.content).toBe('the whole answer');
    expect(res.attempts[0].error?.message).toContain('truncated stream');
  });
});

describe('OpenAI prompt-cache usage', () => {
  it('reports cached prompt tokens, which the price table bills at the cached-input price', () => {
    const result = fromOpenAiCompletion('openai', {
      choices: [{ message: { content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 100, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 80 } },
    });
    expect(result.usage).toEqual({ inputTokens: 100, outputTokens: 5, cachedInputTokens: 80 });
    expect(quote('openai/gpt-4o-mini', result.usage!).costUsd).toBeCloseTo((20 * 0.15 + 80 * 0.075 + 5 * 0.6) / 1e6, 12);
  });
});
