import { AgentSchema } from '@keel/contracts';
import type { ChatMessage } from '@keel/contracts';
import { candidateModels, difficulty, planRoute } from './route-plan';

const agent = (routing: unknown) => AgentSchema.parse({ name: 'a', model: 'openai/gpt-4o-mini', routing });
const msgs = (text: string): ChatMessage[] => [{ role: 'system', content: 'sys' }, { role: 'user', content: text }];

describe('planRoute', () => {
  it('uses the agent model without routing', () => {
    expect(planRoute(AgentSchema.parse({ name: 'a', model: 'openai/gpt-4o-mini' }), { model: 'openai/gpt-4o-mini', messages: msgs('hi'), inputTokens: 5 }))
      .toEqual({ chain: ['openai/gpt-4o-mini'], fallbacks: [], reason: 'agent model' });
  });

  it('applies the first matching rule: keywords, input size, task type', () => {
    const a = agent({
      rules: [
        { when: { keywords: ['Refund'] }, model: 'openai/gpt-4o' },
        { when: { minInputTokens: 1000 }, model: 'anthropic/claude-sonnet-4' },
        { when: { taskType: 'support' }, model: 'openai/gpt-4o-mini' },
      ],
      fallbacks: ['anthropic/claude-3-5-haiku'],
    });
    expect(planRoute(a, { model: 'x/y', messages: msgs('I want a refund'), inputTokens: 5 })).toMatchObject({ chain: ['openai/gpt-4o'], reason: 'rule 1', fallbacks: ['anthropic/claude-3-5-haiku'] });
    expect(planRoute(a, { model: 'x/y', messages: msgs('long'), inputTokens: 5000 })).toMatchObject({ chain: ['anthropic/claude-sonnet-4'], reason: 'rule 2' });
    expect(planRoute(a, { model: 'x/y', messages: msgs('hello'), inputTokens: 5, taskType: 'support' })).toMatchObject({ reason: 'rule 3' });
    expect(planRoute(a, { model: 'x/y', messages: msgs('hello'), inputTokens: 5 })).toMatchObject({ chain: ['x/y'], reason: 'agent model' });
  });

  it('routes hard inputs to the classifier model, and otherwise to the cascade', () => {
    const a = agent({ classifier: { hardModel: 'openai/gpt-4o', threshold: 0.4 }, cascade: { models: ['openai/gpt-4o-mini', 'openai/gpt-4o'], minConfidence: 0.8 } });
    const hard = 'Prove the theorem step by step and analyze the complexity of this function:\n```js\nconst f = (n) => n;\n```';
    expect(planRoute(a, { model: 'x/y', messages: msgs(hard), inputTokens: 50 })).toMatchObject({ chain: ['openai/gpt-4o'] });
    expect(planRoute(a, { model: 'x/y', messages: msgs('What time is it?'), inputTokens: 5 })).toEqual({ chain: ['openai/gpt-4o-mini', 'openai/gpt-4o'], fallbacks: [], minConfidence: 0.8, reason: 'cascade' });
  });

  it('scores difficulty in [0, 1], higher for reasoning, code and maths', () => {
    expect(difficulty('hi')).toBeLessThan(0.1);
    expect(difficulty('Compare the trade-offs and design an architecture; prove it is optimal?? ```code```')).toBeGreaterThan(0.6);
    expect(difficulty('x '.repeat(10_000))).toBeLessThanOrEqual(1);
  });
});

describe('candidateModels', () => {
  it('lists every model routing may use, so a budget can reserve for the dearest', () => {
    const a = agent({ rules: [{ when: { keywords: ['refund'] }, model: 'openai/gpt-4o' }], classifier: { hardModel: 'anthropic/claude-sonnet-4' }, fallbacks: ['anthropic/claude-3-5-haiku'] });
    expect(candidateModels(a, { model: 'openai/gpt-4o-mini', messages: msgs('hi'), inputTokens: 5 }).sort())
      .toEqual(['anthropic/claude-3-5-haiku', 'anthropic/claude-sonnet-4', 'openai/gpt-4o', 'openai/gpt-4o-mini']);
  });
});
