import { AgentSchema, KeelError } from '@keel/contracts';
import type { CompleteRequest, CompleteResponse } from '@keel/contracts';
import { CircuitBreakers } from '@keel/resilience';
import { ownUsage, routedComplete } from './routed-complete';

const req = (model = 'openai/gpt-4o-mini'): CompleteRequest => ({
  taskId: 't', tenant: 'default', agent: 'a', step: 1, model, messages: [{ role: 'user', content: 'hi' }], tools: [], scriptCursor: 0, deadline: Date.now() + 10_000,
});
const ok = (model: string, extra: Partial<CompleteResponse> = {}): CompleteResponse => ({
  model, content: `from ${model}`, toolCalls: [], finishReason: 'stop', usage: { inputTokens: 1, outputTokens: 1 }, costUsd: 0, attempts: [{ attempt: 1, latencyMs: 1 }], scriptTurnsConsumed: 0, ...extra,
});
const agent = (routing: unknown) => AgentSchema.parse({ name: 'a', model: 'openai/gpt-4o-mini', routing });

function fakeModels(behaviour: Record<string, (n: number) => CompleteResponse>) {
  const calls: string[] = [];
  const counts: Record<string, number> = {};
  return {
    calls,
    complete: async (r: CompleteRequest) => {
      calls.push(r.model);
      counts[r.model] = (counts[r.model] ?? 0) + 1;
      return behaviour[r.model](counts[r.model]);
    },
  };
}
const dead = () => { throw new KeelError('provider_error', 'HTTP 503', { retryable: true }); };

describe('routedComplete', () => {
  it('falls back when the primary fails after its retries, and reports the route', async () => {
    const m = fakeModels({ 'openai/gpt-4o-mini': dead, 'anthropic/claude-3-5-haiku': () => ok('anthropic/claude-3-5-haiku') });
    const res = await routedComplete(req(), agent({ fallbacks: ['anthropic/claude-3-5-haiku'] }), { complete: m.complete, breakers: new CircuitBreakers({ failureThreshold: 3, cooldownMs: 1000 }), inputTokens: () => 1 });
    expect(res.content).toBe('from anthropic/claude-3-5-haiku');
    expect(res.route).toMatchObject({ requested: 'openai/gpt-4o-mini', used: 'anthropic/claude-3-5-haiku', fallbacks: [{ model: 'openai/gpt-4o-mini', error: 'provider_error: HTTP 503' }] });
  });

  it('opens the breaker of a dead deployment so later calls skip it, then probes it again after the cooldown', async () => {
    let t = 0;
    const breakers = new CircuitBreakers({ failureThreshold: 2, cooldownMs: 1000, now: () => t });
    let primaryUp = false;
    const m = fakeModels({ 'openai/gpt-4o-mini': () => (primaryUp ? ok('openai/gpt-4o-mini') : dead()), 'anthropic/claude-3-5-haiku': () => ok('anthropic/claude-3-5-haiku') });
    const a = agent({ fallbacks: ['anthropic/claude-3-5-haiku'] });
    for (let i = 0; i < 4; i++) await routedComplete(req(), a, { complete: m.complete, breakers, inputTokens: () => 1 });
    expect(m.calls.filter((c) => c === 'openai/gpt-4o-mini')).toHaveLength(2); // then skipped while open
    expect(breakers.state('openai/gpt-4o-mini')).toBe('open');
    primaryUp = true;
    t = 1500;
    const res = await routedComplete(req(), a, { complete: m.complete, breakers, inputTokens: () => 1 });
    expect(res.model).toBe('openai/gpt-4o-mini');
    expect(breakers.state('openai/gpt-4o-mini')).toBe('closed');
  });

  it('escalates a cascade when the cheap answer fails JSON validation, and asks only the judged models for a confidence', async () => {
    const wanted: [string, boolean][] = [];
    const answers: Record<string, CompleteResponse> = {
      'openai/gpt-4o-mini': ok('openai/gpt-4o-mini', { content: 'Sure! {"total": 4' }),
      'openai/gpt-4o': ok('openai/gpt-4o', { content: '{"total": 4}' }),
    };
    const complete = async (r: CompleteRequest, o: { wantConfidence: boolean }) => {
      wanted.push([r.model, o.wantConfidence]);
      return answers[r.model];
    };
    const a = agent({ cascade: { models: ['openai/gpt-4o-mini', 'openai/gpt-4o'], minConfidence: 0.7, validate: 'json' } });
    const res = await routedComplete(req(), a, { complete, breakers: new CircuitBreakers({ failureThreshold: 3, cooldownMs: 1000 }), inputTokens: () => 1 });
    expect(res.content).toBe('{"total": 4}');
    expect(res.route?.escalations).toEqual([expect.objectContaining({ model: 'openai/gpt-4o-mini', why: 'answer is not valid JSON' })]);
    expect(wanted).toEqual([['openai/gpt-4o-mini', true], ['openai/gpt-4o', false]]);
  });

  it('escalates a cascade when the cheap answer is not confident enough', async () => {
    const m = fakeModels({ 'openai/gpt-4o-mini': () => ok('openai/gpt-4o-mini', { confidence: 0.4 }), 'openai/gpt-4o': () => ok('openai/gpt-4o', { confidence: 0.95 }) });
    const res = await routedComplete(req(), agent({ cascade: { models: ['openai/gpt-4o-mini', 'openai/gpt-4o'], minConfidence: 0.7 } }), { complete: m.complete, breakers: new CircuitBreakers({ failureThreshold: 3, cooldownMs: 1000 }), inputTokens: () => 1 });
    expect(res.model).toBe('openai/gpt-4o');
    expect(res.route?.escalations).toEqual([{ model: 'openai/gpt-4o-mini', why: 'confidence 0.4 < 0.7', usage: { inputTokens: 1, outputTokens: 1 }, costUsd: 0 }]);
    // The turn's usage includes the passed-over answer; ownUsage gives back the answering call's.
    expect(res.usage).toEqual({ inputTokens: 2, outputTokens: 2 });
    expect(ownUsage(res)).toEqual({ inputTokens: 1, outputTokens: 1 });
  });

  it('does not fall back on a bad request, and fails with every model named when all are down', async () => {
    const bad = fakeModels({ 'openai/gpt-4o-mini': () => { throw new KeelError('invalid_request', 'bad'); }, 'anthropic/x': () => ok('anthropic/x') });
    await expect(routedComplete(req(), agent({ fallbacks: ['anthropic/x'] }), { complete: bad.complete, breakers: new CircuitBreakers({ failureThreshold: 3, cooldownMs: 1 }), inputTokens: () => 1 })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(bad.calls).toEqual(['openai/gpt-4o-mini']);
    const down = fakeModels({ 'openai/gpt-4o-mini': dead, 'anthropic/x': dead });
    await expect(routedComplete(req(), agent({ fallbacks: ['anthropic/x'] }), { complete: down.complete, breakers: new CircuitBreakers({ failureThreshold: 3, cooldownMs: 1 }), inputTokens: () => 1 })).rejects.toThrow(/no model could answer: openai\/gpt-4o-mini \(provider_error: HTTP 503\); anthropic\/x/);
  });
});
