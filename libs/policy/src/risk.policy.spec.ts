import { AgentSchema } from '@keel/contracts';
import { decide, defaultTier } from './risk.policy';

const agent = (tools: unknown[]) => AgentSchema.parse({ name: 'a', model: 'scripted/default', tools });
const plain = agent(['calculator', 'http_request', 'run_code']);

describe('risk policy', () => {
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
});
