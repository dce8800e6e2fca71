import { AgentSchema } from '@keel/contracts';
import type { Experiment } from '@keel/contracts';
import { assignVariant, effectiveAgent, pickVariant, unitDraw } from './variants';

const experiment = (variants: { name: string; weight?: number }[], name = 'prompt-test'): Experiment => ({ name, variants });
const USERS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
const assignAll = (e: Experiment, tenant = 'acme', agent = 'support') => USERS.map((u) => pickVariant(e, tenant, agent, `user:${u}`));
const shares = (picks: string[]) => {
  const n: Record<string, number> = {};
  for (const p of picks) n[p] = (n[p] ?? 0) + 1;
  return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, v / picks.length]));
};
const moved = (a: string[], b: string[]) => a.filter((x, i) => x !== b[i]).length / a.length;

/** The alternative the docs compare with: u in [0,1) against cumulative weights in declared order. */
const cumulative = (e: Experiment, unit: string) => {
  const total = e.variants.reduce((s, v) => s + (v.weight ?? 1), 0);
  const u = unitDraw('cumulative', unit);
  let acc = 0;
  for (const v of e.variants) {
    acc += (v.weight ?? 1) / total;
    if (u < acc) return v.name;
  }
  return e.variants[e.variants.length - 1].name;
};

describe('A/B variant assignment', () => {
  const ab = experiment([{ name: 'control' }, { name: 'concise' }]);
  const agent = AgentSchema.parse({ name: 'support', model: 'scripted/default', systemPrompt: 'base prompt', experiment: ab });

  it('is sticky: the same user gets the same variant on every task', () => {
    for (const userId of ['ada', 'bob', 'carol', 'dave', 'erin']) {
      const seen = new Set(Array.from({ length: 50 }, (_, i) => assignVariant(agent, { tenant: 'acme', agent: 'support', userId, taskId: `task-${i}` })!.variant));
      expect(seen.size).toBe(1);
    }
    expect(assignVariant(agent, { tenant: 'acme', agent: 'support', userId: 'ada', taskId: 't1' })).toEqual({ experiment: 'prompt-test', variant: expect.any(String), assignment: 'user' });
  });

  it('without a userId assigns by task id (and says so), so a task\'s retry keeps its variant', () => {
    const a = assignVariant(agent, { tenant: 'acme', agent: 'support', userId: null, taskId: 'f4e1c1a8-0000-4000-8000-000000000001' })!;
    expect(a.assignment).toBe('task');
    expect(assignVariant(agent, { tenant: 'acme', agent: 'support', taskId: 'f4e1c1a8-0000-4000-8000-000000000001' })).toEqual(a);
    const byTask = shares(USERS.map((u) => assignVariant(agent, { tenant: 'acme', agent: 'support', taskId: u })!.variant));
    expect(Math.abs(byTask.control - 0.5)).toBeLessThan(0.05);
  });

  it('is scoped to tenant, agent and experiment name: different salts give independent splits', () => {
    const base = assignAll(ab);
    for (const other of [assignAll(ab, 'other-tenant'), assignAll(ab, 'acme', 'other-agent'), assignAll(experiment(ab.variants, 'prompt-test-2'))]) {
      // Independent 50/50 draws agree about half the time.
      expect(Math.abs(1 - moved(base, other) - 0.5)).toBeLessThan(0.05);
    }
  });

  it('an agent without an experiment assigns nothing', () => {
    expect(assignVariant(AgentSchema.parse({ name: 'plain', model: 'scripted/default' }), { tenant: 'acme', agent: 'plain', userId: 'ada', taskId: 't' })).toBeNull();
  });

  it('balances 10,000 users within 5 % of equal weights (2 and 3 variants)', () => {
    const two = shares(assignAll(ab));
    expect(Math.abs(two.control - 0.5)).toBeLessThan(0.05 * 0.5);
    expect(Math.abs(two.concise - 0.5)).toBeLessThan(0.05 * 0.5);
    const three = shares(assignAll(experiment([{ name: 'a' }, { name: 'b' }, { name: 'c' }])));
    for (const v of ['a', 'b', 'c']) expect(Math.abs(three[v] - 1 / 3)).toBeLessThan(0.05 / 3);
    process.stdout.write(`equal weights over 10,000 users: ${JSON.stringify(two)} ${JSON.stringify(three)}\n`);
  });

  it('balances 10,000 users within 5 % of 70/30 weights', () => {
    const s = shares(assignAll(experiment([{ name: 'control', weight: 70 }, { name: 'concise', weight: 30 }])));
    expect(Math.abs(s.control - 0.7)).toBeLessThan(0.05 * 0.7);
    expect(Math.abs(s.concise - 0.3)).toBeLessThan(0.05 * 0.3);
    process.stdout.write(`70/30 over 10,000 users: ${JSON.stringify(s)}\n`);
  });

  it('adding a third variant moves only the users the new variant takes (about a third), all of them to it', () => {
    const before = assignAll(ab);
    const after = assignAll(experiment([...ab.variants, { name: 'friendly' }]));
    const share = moved(before, after);
    expect(share).toBeGreaterThan(0.3);
    expect(share).toBeLessThan(0.37);
    expect(before.every((b, i) => after[i] === b || after[i] === 'friendly')).toBe(true);
    // Cumulative buckets in declared order move half of everyone for the same change.
    const cumBefore = USERS.map((u) => cumulative(ab, u));
    const cumAfter = USERS.map((u) => cumulative(experiment([...ab.variants, { name: 'friendly' }]), u));
    const cumShare = moved(cumBefore, cumAfter);
    expect(cumShare).toBeGreaterThan(0.45);
    process.stdout.write(`adding a 3rd variant to 50/50 moved ${(share * 100).toFixed(1)} % of 10,000 users (cumulative buckets: ${(cumShare * 100).toFixed(1)} %)\n`);
  });

  it('changing weights 50/50 → 70/30 moves only the difference (~20 %), only towards the heavier variant', () => {
    const before = assignAll(ab);
    const after = assignAll(experiment([{ name: 'control', weight: 70 }, { name: 'concise', weight: 30 }]));
    const share = moved(before, after);
    expect(share).toBeGreaterThan(0.17);
    expect(share).toBeLessThan(0.23);
    expect(before.every((b, i) => after[i] === b || after[i] === 'control')).toBe(true);
    process.stdout.write(`50/50 → 70/30 moved ${(share * 100).toFixed(1)} % of 10,000 users\n`);
  });

  it('removing a variant moves only its own users; weight 0 stops new assignments to it', () => {
    const three = experiment([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    const before = assignAll(three);
    const after = assignAll(experiment([{ name: 'a' }, { name: 'c' }]));
    expect(before.every((b, i) => b === 'b' || after[i] === b)).toBe(true);
    const drained = assignAll(experiment([{ name: 'a', weight: 1 }, { name: 'b', weight: 0 }, { name: 'c', weight: 1 }]));
    expect(drained).not.toContain('b');
    expect(drained).toEqual(after);
  });

  it('effectiveAgent applies the variant\'s systemPrompt, model and routing, and nothing else', () => {
    const a = AgentSchema.parse({
      name: 'support', model: 'scripted/default', systemPrompt: 'base prompt', tools: ['calculator'],
      experiment: {
        name: 'e', variants: [
          { name: 'control' },
          { name: 'big', systemPrompt: 'You are terse.', model: 'openai/gpt-4o', routing: { fallbacks: ['openai/gpt-4o-mini'] } },
        ],
      },
    });
    const big = effectiveAgent(a, 'big')!;
    expect(big.systemPrompt).toBe('You are terse.');
    expect(big.model).toBe('openai/gpt-4o');
    expect(big.routing?.fallbacks).toEqual(['openai/gpt-4o-mini']);
    expect(big.tools).toEqual(a.tools);
    expect(big.name).toBe('support');
    expect(effectiveAgent(a, 'control')).toEqual(a);
    expect(effectiveAgent(a, null)).toBe(a);
    expect(effectiveAgent(a, 'removed-since')).toBe(a);
    expect(effectiveAgent(undefined, 'big')).toBeUndefined();
  });
});
