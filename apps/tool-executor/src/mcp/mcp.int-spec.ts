import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KeelError } from '@keel/contracts';
import { waitFor } from '@keel/testing';
import { ToolRegistry } from '../tools/tool.registry';
import type { ToolContext } from '../tools/tool.definition';
import { parseMcpServers } from './mcp.config';
import { McpHub } from './mcp.hub';

/**
 * The MCP client against the fixture server (apps/tool-executor/test/mcp-fixture-server.mjs)
 * as a real child process: over stdio as the tool-executor spawns it, and over streamable
 * HTTP, where the server is killed and started again to see the reconnect.
 */
const FIXTURE = resolve(__dirname, '../../test/mcp-fixture-server.mjs');
const quiet = { info: () => undefined, warn: () => undefined };
const ctx = (timeoutMs = 5_000): ToolContext => ({ idempotencyKey: 'k', allow: [], timeoutMs, signal: new AbortController().signal });

function calls(log: string): { tool: string; arguments: Record<string, unknown> }[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { tool: string; arguments: Record<string, unknown> });
}

async function invokeError(registry: ToolRegistry, name: string, args: unknown, c = ctx()): Promise<KeelError> {
  try {
    await registry.invoke(name, args, c);
  } catch (err) {
    if (err instanceof KeelError) return err;
    throw err;
  }
  throw new Error(`expected ${name} to fail`);
}

describe('MCP over stdio (fixture server)', () => {
  const log = join(mkdtempSync(join(tmpdir(), 'keel-mcp-')), 'calls.jsonl');
  const registry = new ToolRegistry();
  let hub: McpHub;

  beforeAll(async () => {
    hub = new McpHub(parseMcpServers(JSON.stringify([{
      name: 'orders', transport: 'stdio', command: process.execPath, args: [FIXTURE], env: { MCP_FIXTURE_LOG: log },
      tools: { lookup_order: { permission: 'read', risk: 'auto' }, slow_lookup: { permission: 'read', timeoutMs: 300 } },
    }, {
      name: 'broken', transport: 'stdio', command: join(tmpdir(), 'no-such-mcp-server-binary'),
    }])), registry, { log: quiet, backoff: { minMs: 60_000, maxMs: 60_000 } });
    const started = Date.now();
    await hub.start(10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
  afterAll(() => hub.close());

  it('lists the server\'s tools and registers them as mcp_<server>_<tool>, with their schemas and the deployment\'s overrides', () => {
    const names = registry.list().map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['mcp_orders_lookup_order', 'mcp_orders_delete_order', 'mcp_orders_slow_lookup']));
    expect(names.find((n) => n.startsWith('mcp_orders_order_notes_'))).toBeDefined();
    expect(registry.get('mcp_orders_lookup_order')).toMatchObject({
      permission: 'read', defaultRisk: 'auto', description: 'Looks up an order by its number and returns its status.',
      parameters: { type: 'object', properties: { orderId: { type: 'integer' } }, required: ['orderId'] },
    });
    expect(registry.get('mcp_orders_delete_order')).toMatchObject({ permission: 'destructive', defaultRisk: 'approve', idempotency: 'not_idempotent' });
  });

  it('calls a tool and returns its structured content', async () => {
    await expect(registry.invoke('mcp_orders_lookup_order', { orderId: 42 }, ctx())).resolves.toEqual({ orderId: 42, status: 'shipped', items: 3 });
    expect(calls(log).at(-1)).toMatchObject({ tool: 'lookup_order', arguments: { orderId: 42 } });
  });

  it('joins text content when there is no structured content', async () => {
    const notes = registry.list().find((t) => t.name.startsWith('mcp_orders_order_notes_'))!;
    await expect(registry.invoke(notes.name, { orderId: 7 }, ctx())).resolves.toBe('notes for 7:\nfragile\n[image (image/png) not shown]');
    expect(calls(log).at(-1)).toMatchObject({ tool: 'order.notes' });
  });

  it('maps isError to a tool error', async () => {
    const err = await invokeError(registry, 'mcp_orders_lookup_order', { orderId: 999 });
    expect(err).toMatchObject({ code: 'tool_error', message: 'mcp_orders_lookup_order: order 999 does not exist' });
  });

  it('validates arguments against the imported schema before calling', async () => {
    const before = calls(log).length;
    const err = await invokeError(registry, 'mcp_orders_lookup_order', { orderId: 'forty-two' });
    expect(err).toMatchObject({ code: 'validation_failed', message: 'invalid arguments for mcp_orders_lookup_order: arguments.orderId: must be integer' });
    expect(calls(log).length).toBe(before);
  });

  it('stops waiting at the call\'s time limit', async () => {
    const started = Date.now();
    const err = await invokeError(registry, 'mcp_orders_slow_lookup', { ms: 5_000 }, ctx(300));
    expect(err.code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reports a server that cannot start as down, without holding up the others', () => {
    const status = hub.readiness();
    expect(status.down).toEqual(['broken']);
    expect(status.servers.find((s) => s.name === 'orders')).toMatchObject({ state: 'up', transport: 'stdio', failures: 0 });
    expect(status.servers.find((s) => s.name === 'broken')).toMatchObject({ state: 'down', failures: 1, lastError: expect.stringMatching(/cannot connect/) });
  });
});

describe('MCP over streamable HTTP (fixture server), with a reconnect', () => {
  const log = join(mkdtempSync(join(tmpdir(), 'keel-mcp-http-')), 'calls.jsonl');
  const registry = new ToolRegistry();
  let port: number;
  let server: ChildProcess | undefined;
  let hub: McpHub;

  const startServer = async (): Promise<void> => {
    const child = spawn(process.execPath, [FIXTURE, '--http', String(port)], { env: { ...process.env, MCP_FIXTURE_LOG: log }, stdio: ['ignore', 'pipe', 'inherit'] });
    server = child;
    await new Promise<void>((ok, fail) => {
      child.once('exit', (code) => fail(new Error(`fixture exited with ${code}`)));
      child.stdout.on('data', (b: Buffer) => {
        if (b.toString().includes('listening')) ok();
      });
    });
  };
  const stopServer = async (): Promise<void> => {
    const child = server;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((r) => {
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
  };

  beforeAll(async () => {
    port = await new Promise<number>((r) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => r(p));
      });
    });
    await startServer();
    hub = new McpHub(parseMcpServers(JSON.stringify([{
      name: 'remote', transport: 'http', url: `http://127.0.0.1:${port}/mcp`, headers: { 'X-Test': '1' }, defaults: { permission: 'read' },
    }])), registry, { log: quiet, backoff: { minMs: 100, maxMs: 300 }, pingIntervalMs: 200 });
    await hub.start(10_000);
  });
  afterAll(async () => {
    await hub?.close();
    await stopServer();
  });

  it('calls tools over HTTP', async () => {
    expect(hub.status()[0]).toMatchObject({ name: 'remote', transport: 'http', state: 'up' });
    await expect(registry.invoke('mcp_remote_lookup_order', { orderId: 7 }, ctx())).resolves.toEqual({ orderId: 7, status: 'processing', items: 1 });
  });

  it('fails calls with a retryable unavailable while the server is gone, and reconnects when it is back', async () => {
    await stopServer();
    const err = await invokeError(registry, 'mcp_remote_lookup_order', { orderId: 7 });
    expect(err).toMatchObject({ code: 'unavailable', retryable: true });
    await waitFor('server reported down', () => hub.readiness().down.includes('remote'), 5_000, 20);
    // The tools stay registered while the server is down.
    expect(registry.get('mcp_remote_lookup_order')).toBeDefined();

    await startServer();
    await waitFor('server back up', () => hub.status()[0].state === 'up', 10_000, 50);
    await expect(registry.invoke('mcp_remote_lookup_order', { orderId: 42 }, ctx())).resolves.toMatchObject({ orderId: 42 });
    expect(calls(log).map((c) => c.tool)).toEqual(['lookup_order', 'lookup_order']);
  });
});
