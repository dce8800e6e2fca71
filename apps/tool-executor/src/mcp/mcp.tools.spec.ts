import { describe, expect, it, jest } from '@jest/globals';
import { McpError, ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { ConfigError } from '@keel/config';
import { KeelError, TOOL_NAME_PATTERN } from '@keel/contracts';
import { ToolRegistry } from '../tools/tool.registry';
import type { ToolContext } from '../tools/tool.definition';
import { parseMcpServers } from './mcp.config';
import { mapMcpError } from './mcp.connection';
import { mapCallResult, mcpToolDefinition, mcpToolName } from './mcp.tools';
import type { McpCaller } from './mcp.tools';

const ctx = (): ToolContext => ({ idempotencyKey: 'k', allow: [], timeoutMs: 1_234, signal: new AbortController().signal });
const server = (extra: Record<string, unknown> = {}) => parseMcpServers(JSON.stringify([{ name: 'orders', transport: 'stdio', command: 'node', ...extra }]))[0];
const lookup = {
  name: 'lookup_order',
  description: 'Looks up an order.',
  inputSchema: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { orderId: { type: 'integer', exclusiveMinimum: 0 } }, required: ['orderId'], additionalProperties: false },
};

describe('MCP tool names', () => {
  it('are mcp_<server>_<tool>, valid OpenAI function names', () => {
    expect(mcpToolName('orders', 'lookup_order')).toBe('mcp_orders_lookup_order');
    expect(mcpToolName('crm-eu', 'find-contact')).toBe('mcp_crm-eu_find-contact');
  });

  it('replace characters OpenAI does not accept and add a hash of the original, so names cannot meet', () => {
    const dotted = mcpToolName('orders', 'order.notes/v2');
    expect(dotted).toMatch(/^mcp_orders_order_notes_v2_[0-9a-f]{8}$/);
    expect(mcpToolName('orders', 'order_notes_v2')).toBe('mcp_orders_order_notes_v2');
    expect(mcpToolName('orders', 'order.notes')).toBe('mcp_orders_order_notes_e114a3fb'); // the README's example
    expect(mcpToolName('orders', 'order.notes.v2')).not.toBe(dotted);
    expect(mcpToolName('orders', 'Bestellung prüfen')).toMatch(/^mcp_orders_Bestellung_pr_fen_[0-9a-f]{8}$/);
  });

  it('stay within 64 characters', () => {
    const long = mcpToolName('a-rather-long-server-name-here', 'x'.repeat(100));
    expect(long.length).toBe(64);
    expect(long).toMatch(TOOL_NAME_PATTERN);
    expect(mcpToolName('a-rather-long-server-name-here', 'y'.repeat(100))).not.toBe(long);
    for (const name of ['a', 'ä', '...', 'x'.repeat(64), 'tool with spaces']) expect(mcpToolName('s', name)).toMatch(TOOL_NAME_PATTERN);
  });
});

describe('MCP tool definitions', () => {
  const caller = jest.fn<McpCaller>(async () => ({ content: [{ type: 'text', text: 'ok' }] }));

  it('default to the strictest profile: destructive, approve, not idempotent, no retry, no cache', () => {
    const def = mcpToolDefinition(server(), lookup, caller);
    expect(def).toMatchObject({
      name: 'mcp_orders_lookup_order', description: 'Looks up an order.', permission: 'destructive', defaultRisk: 'approve',
      idempotency: 'not_idempotent', source: 'mcp',
    });
    expect(def.retry).toBeUndefined();
    expect(def.resultCacheTtlMs).toBeUndefined();
    expect(def.timeoutMs).toBeUndefined();
    expect(def.parameters).not.toHaveProperty('$schema');
  });

  it('take per-tool overrides over the server defaults; risk follows the permission unless set', () => {
    const s = server({
      defaults: { permission: 'write', timeoutMs: 9_000 },
      tools: { lookup_order: { permission: 'read', resultCacheTtlMs: 60_000, retry: { attempts: 3 } }, cancel: { risk: 'approve' } },
    });
    expect(mcpToolDefinition(s, lookup, caller)).toMatchObject({
      permission: 'read', defaultRisk: 'auto', idempotency: 'idempotent_by_key', timeoutMs: 9_000, resultCacheTtlMs: 60_000, retry: { attempts: 3, backoffMs: 200 },
    });
    expect(mcpToolDefinition(s, { ...lookup, name: 'cancel' }, caller)).toMatchObject({ permission: 'write', defaultRisk: 'approve', idempotency: 'not_idempotent' });
    expect(mcpToolDefinition(s, { ...lookup, name: 'other' }, caller)).toMatchObject({ permission: 'write', defaultRisk: 'review' });
  });

  it('validate arguments against the imported JSON Schema, one line per field', () => {
    const registry = new ToolRegistry([mcpToolDefinition(server(), lookup, caller)]);
    expect(() => registry.parseArgs('mcp_orders_lookup_order', { orderId: 'x', note: 1 })).toThrow(
      'invalid arguments for mcp_orders_lookup_order: arguments.note: unknown field (allowed: orderId); arguments.orderId: must be integer',
    );
    expect(() => registry.parseArgs('mcp_orders_lookup_order', {})).toThrow('arguments.orderId: required');
    expect(() => registry.parseArgs('mcp_orders_lookup_order', { orderId: 0 })).toThrow('arguments.orderId: must be > 0');
    expect(registry.parseArgs('mcp_orders_lookup_order', { orderId: 42 })).toEqual({ orderId: 42 });
  });

  it('understand 2020-12 schemas too (MCP\'s default dialect)', () => {
    const def = mcpToolDefinition(server(), {
      name: 'tuple',
      inputSchema: { type: 'object', properties: { pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false } }, required: ['pair'] },
    }, caller);
    const registry = new ToolRegistry([def]);
    expect(registry.parseArgs('mcp_orders_tuple', { pair: ['a', 1] })).toEqual({ pair: ['a', 1] });
    expect(() => registry.parseArgs('mcp_orders_tuple', { pair: ['a', 'b'] })).toThrow('arguments.pair[1]: must be number');
    expect(() => registry.parseArgs('mcp_orders_tuple', { pair: ['a', 1, 2] })).toThrow('arguments.pair:');
  });

  it('refuse a schema that cannot be compiled (the hub skips that tool)', () => {
    expect(() => mcpToolDefinition(server(), { name: 'bad', inputSchema: { type: 'object', properties: { a: { type: 'nope' } } } }, caller)).toThrow();
  });

  it('call the server with the tool\'s own name and the call\'s time limit', async () => {
    const def = mcpToolDefinition(server(), { ...lookup, name: 'order.lookup' }, caller);
    await expect(def.execute({ orderId: 1 }, ctx())).resolves.toBe('ok');
    expect(caller).toHaveBeenLastCalledWith('order.lookup', { orderId: 1 }, expect.objectContaining({ timeoutMs: 1_234 }));
  });
});

describe('MCP call results', () => {
  it('join text parts and name what cannot be shown', () => {
    expect(mapCallResult('t', { content: [{ type: 'text', text: 'a' }, { type: 'image', data: 'AA', mimeType: 'image/png' }, { type: 'text', text: 'b' }] }))
      .toBe('a\n[image (image/png) not shown]\nb');
    expect(mapCallResult('t', { content: [{ type: 'resource', resource: { uri: 'file:///x', text: 'inside' } }, { type: 'resource_link', uri: 'file:///y', name: 'y' }] }))
      .toBe('inside\n[resource link: file:///y (y)]');
  });

  it('prefer structuredContent', () => {
    expect(mapCallResult('t', { content: [{ type: 'text', text: '{"a":1}' }], structuredContent: { a: 1 } })).toEqual({ a: 1 });
  });

  it('turn isError into a tool error with the server\'s text', () => {
    expect(() => mapCallResult('mcp_s_t', { isError: true, content: [{ type: 'text', text: 'order 9 does not exist' }] }))
      .toThrow(new KeelError('tool_error', 'mcp_s_t: order 9 does not exist'));
    expect(() => mapCallResult('mcp_s_t', { isError: true, content: [] })).toThrow('mcp_s_t: the MCP tool reported an error');
  });

  it('cut very long text', () => {
    const out = mapCallResult('t', { content: [{ type: 'text', text: 'x'.repeat(2 * 1024 * 1024) }] }) as string;
    expect(out.length).toBeLessThan(1024 * 1024 + 100);
    expect(out).toMatch(/\[truncated: the tool returned 2097152 characters\]$/);
  });

  it('map protocol errors to tool errors', () => {
    expect(mapMcpError('s', 't', new McpError(ErrorCode.RequestTimeout, 'Request timed out'), 500)).toMatchObject({ code: 'timeout', message: 't (MCP server s) did not answer within 500 ms' });
    expect(mapMcpError('s', 't', new McpError(ErrorCode.ConnectionClosed, 'closed'), 500)).toMatchObject({ code: 'unavailable', retryable: true });
    expect(mapMcpError('s', 't', new McpError(ErrorCode.InvalidParams, 'bad'), 500)).toMatchObject({ code: 'validation_failed' });
    expect(mapMcpError('s', 't', new McpError(ErrorCode.InternalError, 'boom'), 500)).toMatchObject({ code: 'tool_error', retryable: false });
    expect(mapMcpError('s', 't', new TypeError('fetch failed'), 500)).toMatchObject({ code: 'unavailable', retryable: true });
  });
});

describe('KEEL_MCP_SERVERS', () => {
  it('is empty when unset', () => {
    expect(parseMcpServers(undefined)).toEqual([]);
    expect(parseMcpServers(' ')).toEqual([]);
  });

  it('parses stdio and http servers', () => {
    expect(parseMcpServers(JSON.stringify([
      { name: 'orders', transport: 'stdio', command: 'node', args: ['s.mjs'], env: { A: '1' }, tools: { lookup_order: { permission: 'read', risk: 'auto', timeoutMs: 5000 } } },
      { name: 'search', transport: 'http', url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer x' } },
    ]))).toEqual([
      { name: 'orders', transport: 'stdio', command: 'node', args: ['s.mjs'], env: { A: '1' }, tools: { lookup_order: { permission: 'read', risk: 'auto', timeoutMs: 5000 } } },
      { name: 'search', transport: 'http', url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer x' }, tools: {} },
    ]);
  });

  it.each([
    ['not json', /must be a JSON array/],
    [JSON.stringify([{ name: 'My_Server', transport: 'stdio', command: 'x' }]), /KEEL_MCP_SERVERS\[0\]\.name: a server name is/],
    [JSON.stringify([{ name: 'a', transport: 'ws', url: 'ws://x' }]), /KEEL_MCP_SERVERS\[0\]\.transport/],
    [JSON.stringify([{ name: 'a', transport: 'http', url: 'ftp://x' }]), /KEEL_MCP_SERVERS\[0\]\.url/],
    [JSON.stringify([{ name: 'a', transport: 'stdio', command: 'x', tools: { t: { permission: 'admin' } } }]), /KEEL_MCP_SERVERS\[0\]\.tools\.t\.permission/],
    [JSON.stringify([{ name: 'a', transport: 'stdio', command: 'x' }, { name: 'a', transport: 'stdio', command: 'y' }]), /two servers are named "a"/],
  ])('refuses %s', (raw, message) => {
    expect(() => parseMcpServers(raw)).toThrow(ConfigError);
    expect(() => parseMcpServers(raw)).toThrow(message);
  });
});
