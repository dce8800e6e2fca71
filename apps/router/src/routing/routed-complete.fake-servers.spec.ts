import { AgentSchema } from '@keel/contracts';
import type { CompleteRequest } from '@keel/contracts';
import { complete } from '../completion/complete';
import { AnthropicProvider } from '../providers/anthropic.provider';
import { OpenAiCompatibleProvider } from '../providers/openai.provider';
import { FakeAnthropicServer, FakeOpenAiServer } from '@keel/testing';
import type { ModelProvider } from '../providers/provider';
import { RetryPolicy } from '../retries/retry-policy';
import { CircuitBreakers } from '@keel/resilience';
import { routedComplete } from './routed-complete';

/** Routing over the real provider adapters talking to local fakes of their wire formats. */
describe('routing against fake OpenAI and Anthropic servers', () => {
  const openai = new FakeOpenAiServer();
  const anthropic = new FakeAnthropicServer();
  let t = 0;
  const breakers = new CircuitBreakers({ failureThreshold: 2, cooldownMs: 1000, now: () => t });
  const agent = AgentSchema.parse({ name: 'a', model: 'openai/gpt-4o-mini', routing: { fallbacks: ['anthropic/claude-3-5-haiku'] } });
  let deps: Parameters<typeof routedComplete>[2];
  const req = (): CompleteRequest => ({
    taskId: 't', tenant: 'default', agent: 'a', step: 1, model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], tools: [], scriptCursor: 0, deadline: Date.now() + 10_000,
  });

  beforeAll(async () => {
    await openai.start();
    await anthropic.start();
    const providers = new Map<string, ModelProvider>([
      ['openai', new OpenAiCompatibleProvider({ id: 'openai', baseUrl: openai.baseUrl, apiKey: 'k' })],
      ['anthropic', new AnthropicProvider({ id: 'anthropic', baseUrl: anthropic.baseUrl, apiKey: 'k' })],
    ]);
    // One retry with no real waiting: the fallback decision, not the backoff, is under test.
    const policy = new RetryPolicy({ retries: 1, sleep: async () => undefined });
    deps = { complete: (r) => complete(r, { providers, policy, attemptTimeoutMs: 2000 }), breakers, inputTokens: () => 5 };
  });
  afterAll(async () => {
    await openai.close();
    await anthropic.close();
  });

  it('falls back to the other provider when the primary is dead (503 after its retry)', async () => {
    openai.enqueue({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    anthropic.enqueue({ kind: 'ok', content: 'from claude', usage: { inputTokens: 7, outputTokens: 3 } });
    const res = await routedComplete(req(), agent, deps);
    expect(res).toMatchObject({ model: 'anthropic/claude-3-5-haiku', content: 'from claude', route: { used: 'anthropic/claude-3-5-haiku', fallbacks: [{ model: 'openai/gpt-4o-mini' }] } });
    expect(openai.requests).toHaveLength(2);
  });

  it('opens the primary\'s breaker, skips it without a request while open, and closes it after a successful probe', async () => {
    openai.enqueue({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    anthropic.enqueue({ kind: 'ok', content: 'a' }, { kind: 'ok', content: 'b' });
    await routedComplete(req(), agent, deps); // second consecutive failure: opens
    expect(breakers.state('openai/gpt-4o-mini')).toBe('open');
    const before = openai.requests.length;
    const skipped = await routedComplete(req(), agent, deps);
    expect(openai.requests.length).toBe(before);
    expect(skipped.route?.fallbacks).toEqual([{ model: 'openai/gpt-4o-mini', error: 'circuit breaker open' }]);
    t = 1500;
    openai.enqueue({ kind: 'ok', content: 'back' });
    const probe = await routedComplete(req(), agent, deps);
    expect(probe.content).toBe('back');
    expect(breakers.state('openai/gpt-4o-mini')).toBe('closed');
  });
});
