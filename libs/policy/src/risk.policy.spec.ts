import { AgentSchema, INPUT_REVIEW_TOOL } from '@keel/contracts';
import { decide, defaultTier } from './risk.policy';

const agent = (tools: unknown[]) => AgentSchema.parse({ name: 'a', model: 'scripted/default', tools });
const plain = agent(['calculator', 'http_request', 'run_code']);

describe('risk policy', () => {
  describe('an escalated user input (INPUT_REVIEW_TOOL)', () => {
    const review = { name: INPUT_REVIEW_TOOL, arguments: { input: 'Please use my key to call the API', categories: ['prompt_injection'], score: 0.6 } };

    it('always needs a person: high confidence, a registry risk of auto and an act intent do not lower it', () => {
      expect(decide(plain, review, 0.99, 'act', { risk: 'auto', permission: 'read' })).toMatchObject({ tier: 'approve', action: 'approve', reason: expect.stringMatching(/escalated this user input/) });
    });

    it('an agent file cannot declare a keel.* tool to re-tier it', () => {
      const r = AgentSchema.safeParse({ name: 'a', model: 'scripted/default', tools: [{ name: INPUT_REVIEW_TOOL, risk: 'auto' }] });
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toMatch(/reserved for Keel/);
      expect(AgentSchema.safeParse({ name: 'a', model: 'scripted/default', tools: ['keel.anything'] }).success).toBe(false);
    });

    it('onEscalate defaults to fail and accepts review only', () => {
      expect(AgentSchema.parse({ name: 'a', model: 'scripted/default' }).guardrail.onEscalate).toBe('fail');
      expect(AgentSchema.parse({ name: 'a', model: 'scripted/default', guardrail: { onEscalate: 'review' } }).guardrail.onEscalate).toBe('review');
      expect(AgentSchema.safeParse({ name: 'a', model: 'scripted/default', guardrail: { onEscalate: 'allow' } }).success).toBe(false);
    });
  });

  describe('default tiers', () => {
    it.each([
      [{ name: 'calculator', arguments: { expression: '1+1' } }, 'auto'],
      [{ name: 'http_request', arguments: { method: 'GET', url: 'https://x' } }, 'auto'],
      [{ name: 'http_request', arguments: { method: 'HEAD', url: 'https://x' } }, 'auto'],
      [{ name: 'http_request', arguments: { method: 'get', url: 'https://x' } }, 'auto'],
      [{ name: 'http_request', arguments: { method: 'POST', url: 'https://x' } }, 'review'],
      [{ name: 'http_request', arguments: { method: 'DELETE', url: 'https://x' } }, 'review'],
      [{ name: 'http_request', arguments: { url: 'https://x' } }, 'review'],
      [{ name: 'http_request', arguments: { method: 7 } }, 'review'],
      [{ name: 'run_code', arguments: { language: 'python', code: 'print(1)' } }, 'review'],
      [{ name: 'noop', arguments: {} }, 'auto'],
      [{ name: 'send_email', arguments: {} }, 'approve'],
    ])('%j → %s', (call, tier) => {
      expect(defaultTier(call).tier).toBe(tier);
      expect(decide(plain, call).tier).toBe(tier);
    });

    it('maps tiers to actions', () => {
      expect(decide(plain, { name: 'calculator', arguments: {} })).toMatchObject({ action: 'run' });
      expect(decide(plain, { name: 'run_code', arguments: {} })).toMatchObject({ action: 'review' });
      expect(decide(plain, { name: 'wire_money', arguments: {} })).toMatchObject({ action: 'approve', reason: expect.stringMatching(/no known risk profile/) });
    });
  });

  describe('agent overrides', () => {
    it('the agent file wins over the default, in either direction', () => {
      const a = agent([{ name: 'calculator', risk: 'approve' }, { name: 'run_code', risk: 'auto' }, { name: 'http_request', risk: 'review' }]);
      expect(decide(a, { name: 'calculator', arguments: {} })).toMatchObject({ tier: 'approve', action: 'approve', reason: expect.stringMatching(/agent sets calculator/) });
      expect(decide(a, { name: 'run_code', arguments: {} })).toMatchObject({ tier: 'auto', action: 'run' });
      expect(decide(a, { name: 'http_request', arguments: { method: 'GET' } })).toMatchObject({ tier: 'review' });
    });

    it('an entry without risk falls back to the default', () => {
      const a = agent([{ name: 'http_request', allow: ['api.example.com'] }]);
      expect(decide(a, { name: 'http_request', arguments: { method: 'GET' } }).tier).toBe('auto');
    });
  });

  describe('confidence', () => {
    const calc = { name: 'calculator', arguments: { expression: '2+2' } };
    it.each([
      [undefined, 'auto'], [1, 'auto'], [0.9, 'auto'], [0.89, 'review'], [0.6, 'review'], [0.59, 'approve'], [0, 'approve'],
    ])('confidence %p on an auto tool → %s', (confidence, tier) => {
      expect(decide(plain, calc, confidence).tier).toBe(tier);
    });

    it('never lowers a tier', () => {
      const a = agent([{ name: 'calculator', risk: 'approve' }]);
      expect(decide(a, calc, 0.95).tier).toBe('approve');
      expect(decide(a, calc, 0.7).tier).toBe('approve');
      expect(decide(plain, { name: 'run_code', arguments: {} }, 0.7)).toMatchObject({ tier: 'review', reason: 'run_code runs arbitrary code (sandboxed)' });
    });

    it('raises a review tool to approve below 0.6 and says why', () => {
      expect(decide(plain, { name: 'run_code', arguments: {} }, 0.3)).toMatchObject({ tier: 'approve', action: 'approve', reason: expect.stringMatching(/confidence 0.3 is below 0.6/) });
    });
  });

  describe('per-agent thresholds (approvals.autoAbove / reviewAbove)', () => {
    const calc = { name: 'calculator', arguments: { expression: '2+2' } };
    const strict = AgentSchema.parse({ name: 's', model: 'scripted/default', tools: ['calculator', 'run_code'], approvals: { autoAbove: 0.99, reviewAbove: 0.8 } });
    const lax = AgentSchema.parse({ name: 'l', model: 'scripted/default', tools: ['calculator'], approvals: { autoAbove: 0.5, reviewAbove: 0.2 } });

    it.each([
      [0.995, 'auto'], [0.99, 'auto'], [0.95, 'review'], [0.8, 'review'], [0.79, 'approve'],
    ])('stricter agent: confidence %p → %s', (confidence, tier) => {
      expect(decide(strict, calc, confidence).tier).toBe(tier);
    });

    it.each([
      [0.6, 'auto'], [0.5, 'auto'], [0.3, 'review'], [0.19, 'approve'],
    ])('laxer agent: confidence %p → %s', (confidence, tier) => {
      expect(decide(lax, calc, confidence).tier).toBe(tier);
    });

    it('names the agent\'s threshold in the reason, and still never lowers a tier', () => {
      expect(decide(strict, calc, 0.95).reason).toMatch(/confidence 0.95 is below 0.99/);
      expect(decide(strict, calc, 0.5).reason).toMatch(/confidence 0.5 is below 0.8/);
      expect(decide(lax, { name: 'send_email', arguments: {} }, 1).tier).toBe('approve');
    });

    it('an agent without approvals uses the defaults (0.9 / 0.6)', () => {
      expect(decide({ tools: [] }, calc, 0.89).tier).toBe('review');
      expect(decide({ tools: [], approvals: {} }, calc, 0.59).tier).toBe('approve');
    });
  });

  describe('agent file approvals block', () => {
    const parse = (approvals: unknown) => AgentSchema.safeParse({ name: 'a', model: 'scripted/default', approvals });

    it('fills defaults', () => {
      const r = parse({});
      expect(r.success && r.data.approvals).toEqual({ autoAbove: 0.9, reviewAbove: 0.6, timeoutMs: 3_600_000, onTimeout: 'cancel', escalation: [] });
    });

    it.each([
      [{ autoAbove: 0.5, reviewAbove: 0.7 }, /reviewAbove \(0.7\) must not be above autoAbove \(0.5\)/],
      [{ onTimeout: 'escalate' }, /onTimeout: escalate needs at least one escalation entry/],
      [{ escalation: [{ group: 'oncall', timeoutMs: 1000 }] }, /escalation is set but onTimeout is cancel/],
      [{ onTimeout: 'page' }, /onTimeout/],
      [{ timeoutMs: 10 }, /timeoutMs is at least 100/],
      [{ onTimeout: 'escalate', escalation: [{ group: 'on call', timeoutMs: 1000 }] }, /group is 1-64 letters/],
      [{ onTimeout: 'escalate', escalation: [{ group: 'oncall' }] }, /timeoutMs/],
      [{ autoAbove: 1.5 }, /autoAbove/],
      [{ unknown: 1 }, /unknown/i],
    ])('%j is refused with a clear message', (approvals, message) => {
      const r = parse(approvals);
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toMatch(message);
    });

    it('accepts an escalation chain', () => {
      const r = parse({ timeoutMs: 1500, onTimeout: 'escalate', escalation: [{ group: 'oncall', timeoutMs: 1500 }, { group: 'sre-leads', timeoutMs: 60000 }] });
      expect(r.success).toBe(true);
    });
  });
});
