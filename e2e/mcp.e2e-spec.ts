import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { keelClient, startKeel } from '@keel/testing';
import type { KeelStack } from '@keel/testing';

/**
 * Tools from an MCP server, end to end: the tool-executor spawns the repo's fixture
 * server (apps/tool-executor/test/mcp-fixture-server.mjs) over stdio from
 * KEEL_MCP_SERVERS, imports `lookup_order` (the deployment marks it read / auto) and
 * `delete_order` (left at the default: destructive / approve) as
 * `mcp_orders_<tool>`, and the permission each declares reaches the policy: a
 * read-only task cannot delete an order, however the model's script insists.
 * The fixture writes every call it receives to a file, so "did not run" is checked
 * at the server, not inferred from Keel's own records.
 */
describe('MCP tools end to end (fixture server over stdio)', () => {
  let keel: KeelStack;
  const work = mkdtempSync(join(tmpdir(), 'keel-mcp-e2e-'));
  const log = join(work, 'mcp-calls.jsonl');
  const LOOKUP = 'mcp_orders_lookup_order';
  const DELETE = 'mcp_orders_delete_order';

  const { api, submit: submitTask, waitStatus, events } = keelClient(() => keel);
  const submit = (agent: string, input: string, script: unknown[]) => submitTask({ input, agent, metadata: { script } });
  const fixtureCalls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { tool: string; arguments: Record<string, unknown> }) : []);
  const call = (name: string, args: Record<string, unknown>) => ({ name, arguments: args });

  beforeAll(async () => {
    const agents = join(work, 'agents');
    mkdirSync(agents);
    // Asks a person before a write or destructive call in a read-only task (the default).
    writeFileSync(join(agents, 'orders.yaml'), ['name: orders', 'model: scripted/default', 'tools:', `  - ${LOOKUP}`, `  - ${DELETE}`, ''].join('\n'));
    // Refuses them outright; delete_order is set to risk auto here, so only its permission (from the MCP configuration) can stop it.
    writeFileSync(join(agents, 'orders-strict.yaml'), [
      'name: orders-strict', 'model: scripted/default', 'tools:', `  - ${LOOKUP}`, `  - name: ${DELETE}`, '    risk: auto', 'guardrail: {intentMismatch: block}', '',
    ].join('\n'));
    const servers = [{
      name: 'orders', transport: 'stdio', command: process.execPath, args: [resolve(__dirname, '../apps/tool-executor/test/mcp-fixture-server.mjs')],
      env: { MCP_FIXTURE_LOG: log }, tools: { lookup_order: { permission: 'read', risk: 'auto', timeoutMs: 5000 } },
    }];
    keel = await startKeel({ agentsDir: agents, serviceEnv: { 'tool-executor': { KEEL_MCP_SERVERS: JSON.stringify(servers) } } });
  }, 120_000);

  afterAll(async () => {
    await keel?.stop();
  });

  it('reports the MCP server in the tool-executor\'s readiness', async () => {
    const ready = await (await fetch(`${keel.url('tool-executor')}/readyz`)).json() as { ready: boolean; details?: { mcp?: { down: string[]; servers: { name: string; state: string; tools: number }[] } } };
    expect(ready.ready).toBe(true);
    expect(ready.details?.mcp).toMatchObject({ down: [], servers: [{ name: 'orders', state: 'up', tools: 4 }] });
    expect(await (await fetch(`${keel.url('tool-executor')}/metrics`)).text()).toMatch(/keel_mcp_server_up\{[^}]*server="orders"[^}]*\} 1/);
  });

  it('a task calls the MCP lookup_order tool and gets its result', async () => {
    const id = await submit('orders', 'What is the status of order 42?', [{ toolCalls: [call(LOOKUP, { orderId: 42 })] }, { reply: 'echo' }]);
    const task = await waitStatus(id, ['succeeded']);
    const done = (await events(id)).find((e) => e.type === 'tool.completed');
    expect(done?.data).toMatchObject({ tool: LOOKUP, ok: true, replayed: false });
    // The model saw the server's structured answer (datamarked as tool output).
    expect(task.output).toMatch(/"status":"shipped"/);
    expect(fixtureCalls()).toContainEqual(expect.objectContaining({ tool: 'lookup_order', arguments: { orderId: 42 } }));
  });

  it('a bad argument goes back to the model as validation_failed, and the server never sees the call', async () => {
    const before = fixtureCalls().length;
    const id = await submit('orders', 'What is the status of order 42?', [{ toolCalls: [call(LOOKUP, { orderId: 'forty-two' })] }, { reply: 'echo' }]);
    const task = await waitStatus(id, ['succeeded']);
    expect((await events(id)).find((e) => e.type === 'tool.completed')?.data).toMatchObject({ ok: false, error: { code: 'validation_failed', message: `invalid arguments for ${LOOKUP}: arguments.orderId: must be integer` } });
    expect(task.output).toContain('validation_failed');
    expect(fixtureCalls().length).toBe(before);
  });

  it('holds a destructive MCP call for approval by default, while its read sibling in the same step runs without a gate', async () => {
    const id = await submit('orders', 'What is the status of order 42?', [{ toolCalls: [call(LOOKUP, { orderId: 7 }), call(DELETE, { orderId: 42 })] }, { content: 'done' }]);
    await waitStatus(id, ['waiting_approval']);
    const requested = (await events(id)).filter((e) => e.type === 'approval.requested');
    // The approval service decided with the registry's permission and risk too: only the delete waits for a person.
    expect(requested.map((e) => e.data)).toEqual([expect.objectContaining({ tool: DELETE, tier: 'approve' })]);
    expect(fixtureCalls().filter((c) => c.tool === 'delete_order')).toEqual([]);
    await api(`/v1/tasks/${id}/cancel`, { method: 'POST' });
  });

  it('refuses a destructive MCP call in a read-only task when the agent blocks mismatches, even at risk auto', async () => {
    const id = await submit('orders-strict', 'What is the status of my parcel 42?', [{ toolCalls: [call(DELETE, { orderId: 42 })] }, { content: 'I did not delete anything.' }]);
    const task = await waitStatus(id, ['succeeded']);
    expect(task.output).toBe('I did not delete anything.');
    const blocked = (await events(id)).find((e) => e.type === 'policy.blocked');
    expect(blocked?.data).toMatchObject({ tool: DELETE, intent: 'read_only' });
    expect(String(blocked?.data.reason)).toMatch(/would destroy something/);
    expect(fixtureCalls().filter((c) => c.tool === 'delete_order')).toEqual([]);
  });

  it('runs the same call when the task asks for it (the block came from the task\'s intent and the tool\'s permission)', async () => {
    const id = await submit('orders-strict', 'Delete order 42, it was a duplicate.', [{ toolCalls: [call(DELETE, { orderId: 42, reason: 'duplicate' })] }, { content: 'Deleted.' }]);
    await waitStatus(id, ['succeeded']);
    expect((await events(id)).find((e) => e.type === 'tool.completed')?.data).toMatchObject({ tool: DELETE, ok: true });
    expect(fixtureCalls().filter((c) => c.tool === 'delete_order')).toEqual([expect.objectContaining({ arguments: { orderId: 42, reason: 'duplicate' } })]);
  });
});
