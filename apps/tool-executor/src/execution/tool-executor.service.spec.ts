import { describe, expect, it, jest } from '@jest/globals';
import { z } from 'zod';
import { ConfigError } from '@keel/config';
import { AgentSchema, retryable } from '@keel/contracts';
import type { Agent, ExecuteToolRequest } from '@keel/contracts';
import { registry as metrics } from '@keel/telemetry';
import type { LedgerRepository } from '../ledger/ledger.repository';
import { mcpToolDefinition } from '../mcp/mcp.tools';
import { calculatorTool, httpRequestTool, parametersOf, ToolRegistry } from '../tools';
import type { ToolDefinition } from '../tools';
import { CircuitBreakers } from '@keel/resilience';
import { breakerKey, ToolExecutorService } from './tool-executor.service';

/** The ledger's contract without Postgres: claims always succeed, the result cache is a map. */
function fakeLedger() {
  const cache = new Map<string, { result: unknown; storedAt: number }>();
  const settled: unknown[] = [];
  const ledger = {
    claim: async () => ({ state: 'claimed' as const }),
    retryInDoubt: async () => undefined,
    settle: async (_key: string, outcome: unknown) => {
      settled.push(outcome);
    },
    remember: async (tenant: string, tool: string, hash: string, result: unknown) => {
      cache.set(`${tenant}|${tool}|${hash}`, { result, storedAt: Date.now() });
    },
    recall: async (tenant: string, tool: string, hash: string, maxAgeMs: number) => {
      const hit = cache.get(`${tenant}|${tool}|${hash}`);
      return hit && Date.now() - hit.storedAt < maxAgeMs ? { result: hit.result, ageMs: Date.now() - hit.storedAt } : null;
    },
  };
  return { ledger: ledger as unknown as LedgerRepository, cache, settled };
}

const agentsOf = (...defs: Record<string, unknown>[]) => new Map<string, Agent>(defs.map((d) => {
  const a = AgentSchema.parse({ model: 'scripted/default', ...d });
  return [a.name, a];
}));

/** The built-in tools these tests need (independent of which others builtInTools adds). */
const base = () => new ToolRegistry([calculatorTool(), httpRequestTool()]);

const Args = z.strictObject({ q: z.string() });
function fakeTool(name: string, over: Partial<ToolDefinition<{ q: string }>> & Pick<ToolDefinition<{ q: string }>, 'execute'>): ToolDefinition<{ q: string }> {
  return { name, description: `${name} for tests`, argsSchema: Args, parameters: parametersOf(Args), permission: 'read', defaultRisk: 'auto', idempotency: 'idempotent_by_key', ...over };
}

let n = 0;
const request = (agent: string, name: string, args: Record<string, unknown>, timeoutMs = 2_000): ExecuteToolRequest => ({
  idempotencyKey: `t:1:${n++}`, taskId: 't', tenant: 'acme', agent, step: 1, name, arguments: args, timeoutMs,
});

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await metrics.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as { labels: Record<string, string>; value: number }[] | undefined)?.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

describe('ToolExecutorService: registry metadata', () => {
  it('describes each tool with its permission, risk and idempotency', () => {
    const registry = base();
    registry.register(mcpToolDefinition({ name: 'orders', tools: { lookup_order: { permission: 'read' } } }, { name: 'lookup_order', inputSchema: { type: 'object', properties: { orderId: { type: 'integer' } } } }, async () => ({ content: [] })));
    registry.register(mcpToolDefinition({ name: 'orders', tools: {} }, { name: 'delete_order', inputSchema: { type: 'object' } }, async () => ({ content: [] })));
    const agents = agentsOf({
      name: 'desk',
      tools: ['calculator', 'http_request', 'mcp_orders_lookup_order', 'mcp_orders_delete_order', { name: 'weather', http: { url: 'https://api.example.com/w/{city}' } }, 'not_installed'],
    });
    const svc = new ToolExecutorService(registry, fakeLedger().ledger, agents);
    expect(svc.describe('desk').map(({ name, permission, risk, idempotency }) => ({ name, permission, risk, idempotency }))).toEqual([
      { name: 'calculator', permission: 'read', risk: 'auto', idempotency: 'pure' },
      { name: 'http_request', permission: 'destructive', risk: 'review', idempotency: 'idempotent_by_key' },
      { name: 'mcp_orders_lookup_order', permission: 'read', risk: 'auto', idempotency: 'idempotent_by_key' },
      { name: 'mcp_orders_delete_order', permission: 'destructive', risk: 'approve', idempotency: 'not_idempotent' },
      { name: 'weather', permission: 'read', risk: 'auto', idempotency: 'idempotent_by_key' },
    ]);
  });

  it('keeps an agent\'s HTTP tools to that agent', async () => {
    const agents = agentsOf(
      { name: 'one', tools: [{ name: 'weather', http: { url: 'https://api.example.com/w/{city}' } }] },
      { name: 'two', tools: ['weather'] },
    );
    const svc = new ToolExecutorService(base(), fakeLedger().ledger, agents);
    expect(svc.describe('one').map((t) => t.name)).toEqual(['weather']);
    expect(svc.describe('two')).toEqual([]);
    await expect(svc.execute(request('two', 'weather', { city: 'x' }))).resolves.toMatchObject({ ok: false, error: { code: 'tool_not_allowed', message: 'no tool named "weather" is installed' } });
  });

  it('stops the service at start when an agent\'s HTTP tool cannot be built', () => {
    const agents = agentsOf({ name: 'bad', tools: [{ name: 'w', http: { url: 'https://a.example/x', headers: { 'Idempotency-Key': 'x' } } }] });
    expect(() => new ToolExecutorService(base(), fakeLedger().ledger, agents)).toThrow(ConfigError);
    expect(() => new ToolExecutorService(base(), fakeLedger().ledger, agents)).toThrow(/agent "bad": tool "w": http.headers.Idempotency-Key/);
  });

  it('answers bad arguments as ok:false validation_failed, one line per field, without running the tool', async () => {
    const execute = jest.fn(async () => ({ content: [] }));
    const registry = base().register(mcpToolDefinition({ name: 'orders', tools: {} }, {
      name: 'lookup_order', inputSchema: { type: 'object', properties: { orderId: { type: 'integer' }, note: { type: 'string' } }, required: ['orderId'], additionalProperties: false },
    }, execute));
    const svc = new ToolExecutorService(registry, fakeLedger().ledger, agentsOf({ name: 'desk', tools: ['mcp_orders_lookup_order'] }));
    const res = await svc.execute(request('desk', 'mcp_orders_lookup_order', { note: 5, x: 1 }));
    expect(res).toEqual({
      ok: false, replayed: false, durationMs: 0,
      error: { code: 'validation_failed', message: 'invalid arguments for mcp_orders_lookup_order: arguments.orderId: required; arguments.x: unknown field (allowed: orderId, note); arguments.note: must be string' },
    });
    expect(execute).not.toHaveBeenCalled();
  });

  it('retries a retryable failure per the tool\'s policy, and never a not_idempotent call', async () => {
    let calls = 0;
    const flaky = fakeTool('flaky', {
      retry: { attempts: 3, backoffMs: 10 },
      execute: async () => {
        calls++;
        if (calls < 3) throw retryable('unavailable', 'try again');
        return { calls };
      },
    });
    const before = await metric('keel_tool_retries_total', { tool: 'flaky' });
    const registry = base().register(flaky);
    const agents = agentsOf({ name: 'a', tools: ['flaky'] }, { name: 'strict', tools: [{ name: 'flaky', idempotency: 'not_idempotent' }] }, { name: 'once', tools: [{ name: 'flaky', retry: { attempts: 1 } }] });
    const svc = new ToolExecutorService(registry, fakeLedger().ledger, agents);
    await expect(svc.execute(request('a', 'flaky', { q: 'x' }))).resolves.toMatchObject({ ok: true, result: { calls: 3 } });
    expect(await metric('keel_tool_retries_total', { tool: 'flaky' }) - before).toBe(2);

    calls = 0;
    await expect(svc.execute(request('strict', 'flaky', { q: 'x' }))).resolves.toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(calls).toBe(1);
    calls = 0;
    await expect(svc.execute(request('once', 'flaky', { q: 'x' }))).resolves.toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(calls).toBe(1);
  });

  it('does not retry past the call\'s time limit, nor a failure that is not retryable', async () => {
    let calls = 0;
    const slowFail = fakeTool('slow_fail', {
      retry: { attempts: 5, backoffMs: 400 },
      execute: async () => {
        calls++;
        throw retryable('unavailable', 'down');
      },
    });
    const svc = new ToolExecutorService(base().register(slowFail), fakeLedger().ledger, agentsOf({ name: 'a', tools: ['slow_fail'] }));
    const res = await svc.execute(request('a', 'slow_fail', { q: 'x' }, 300));
    expect(res).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    expect(calls).toBe(1);
  });

  it('applies the tool\'s own timeout when it is below the request\'s', async () => {
    const hang = fakeTool('hang', { timeoutMs: 50, execute: (_a, ctx) => new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error))) });
    const svc = new ToolExecutorService(base().register(hang), fakeLedger().ledger, agentsOf({ name: 'a', tools: ['hang'] }));
    const started = Date.now();
    await expect(svc.execute(request('a', 'hang', { q: 'x' }, 5_000))).resolves.toMatchObject({ ok: false, error: { code: 'timeout', message: 'hang did not finish within 50 ms' } });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('answers a repeated read from the result cache, labelled with its age; writes always run', async () => {
    let runs = 0;
    const lookup = fakeTool('lookup', { resultCacheTtlMs: 60_000, execute: async (a) => ({ q: a.q, run: ++runs }) });
    const write = fakeTool('write', { permission: 'write', resultCacheTtlMs: 60_000, execute: async () => ({ run: ++runs }) });
    const { ledger, settled } = fakeLedger();
    const agents = agentsOf({ name: 'a', tools: ['lookup', 'write'] }, { name: 'nocache', tools: [{ name: 'lookup', resultCacheTtlMs: 0 }] });
    const svc = new ToolExecutorService(base().register(lookup).register(write), ledger, agents);
    const hitsBefore = await metric('keel_tool_cache_hits_total', { tool: 'lookup' });

    const first = await svc.execute(request('a', 'lookup', { q: 'x' }));
    expect(first).toMatchObject({ ok: true, result: { q: 'x', run: 1 } });
    expect(first.cached).toBeUndefined();
    const second = await svc.execute(request('a', 'lookup', { q: 'x' }));
    expect(second).toMatchObject({ ok: true, result: { q: 'x', run: 1 }, cached: { ageMs: expect.any(Number) } });
    expect(settled.at(-1)).toMatchObject({ ok: true, result: { q: 'x', run: 1 } });
    expect(await svc.execute(request('a', 'lookup', { q: 'other' }))).toMatchObject({ result: { run: 2 } });
    expect(await metric('keel_tool_cache_hits_total', { tool: 'lookup' }) - hitsBefore).toBe(1);
    expect(await metric('keel_tool_calls_total', { tool: 'lookup', outcome: 'cached' })).toBeGreaterThanOrEqual(1);

    expect(await svc.execute(request('nocache', 'lookup', { q: 'x' }))).toMatchObject({ result: { run: 3 } });
    await svc.execute(request('a', 'write', { q: 'x' }));
    expect(await svc.execute(request('a', 'write', { q: 'x' }))).toMatchObject({ result: { run: 5 } });
  });

  it('falls back to the tool\'s own alternate when the agent names none', async () => {
    const primary = fakeTool('primary', { fallback: 'secondary', execute: async () => { throw retryable('unavailable', 'down'); } });
    const secondary = fakeTool('secondary', { execute: async () => ({ from: 'secondary' }) });
    const svc = new ToolExecutorService(base().register(primary).register(secondary), fakeLedger().ledger, agentsOf({ name: 'a', tools: ['primary', 'secondary'] }));
    await expect(svc.execute(request('a', 'primary', { q: 'x' }))).resolves.toMatchObject({ ok: true, result: { from: 'secondary' }, degraded: { rung: 'alternate_tool', tool: 'secondary' } });
  });
});

describe('ToolExecutorService: circuit breaker per remote dependency', () => {
  it('stops calling a failing MCP tool after the threshold, answers from its alternate meanwhile, and probes again after the cooldown', async () => {
    let now = 0;
    const breakers = new CircuitBreakers({ failureThreshold: 2, cooldownMs: 1_000, now: () => now });
    let up = false;
    const calls: string[] = [];
    const registry = base();
    registry.register(fakeTool('mcp_crm_lookup', { source: 'mcp', execute: async ({ q }) => {
      calls.push(q);
      if (!up) throw retryable('unavailable', 'crm down');
      return { found: q };
    } }));
    registry.register(fakeTool('cache_lookup', { execute: async ({ q }) => ({ stale: q }) }));
    const agents = agentsOf({ name: 'desk', tools: [{ name: 'mcp_crm_lookup', fallback: 'cache_lookup' }, 'cache_lookup'] });
    const svc = new ToolExecutorService(registry, fakeLedger().ledger, agents, breakers);

    for (const q of ['a', 'b']) expect(await svc.execute(request('desk', 'mcp_crm_lookup', { q }))).toMatchObject({ ok: true, degraded: { rung: 'alternate_tool' } });
    expect(breakers.state('mcp_crm_lookup')).toBe('open');
    // Open: the tool is not called at all; the alternate answers at once.
    const skipped = await svc.execute(request('desk', 'mcp_crm_lookup', { q: 'c' }));
    expect(skipped).toMatchObject({ ok: true, result: { stale: 'c' }, degraded: { rung: 'alternate_tool', cause: { code: 'unavailable' } } });
    expect(calls).toEqual(['a', 'b']);
    // After the cooldown one probe goes through; its success closes the breaker.
    up = true;
    now = 1_500;
    expect(await svc.execute(request('desk', 'mcp_crm_lookup', { q: 'd' }))).toMatchObject({ ok: true, result: { found: 'd' } });
    expect(breakers.state('mcp_crm_lookup')).toBe('closed');
  });

  it('keys http_request by host and leaves local built-ins unguarded', () => {
    const http = httpRequestTool();
    expect(breakerKey(http, { url: 'https://api.example.com/a?b=1' })).toBe('http_request api.example.com');
    expect(breakerKey(http, { url: 'not a url' })).toBeUndefined();
    expect(breakerKey(calculatorTool(), { expression: '1/0' })).toBeUndefined();
  });
});
