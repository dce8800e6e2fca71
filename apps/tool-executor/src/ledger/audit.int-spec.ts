import { randomUUID } from 'node:crypto';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { AgentSchema } from '@keel/contracts';
import type { Agent, ExecuteToolRequest } from '@keel/contracts';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import { withSpan } from '@keel/telemetry';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { listToolAudit } from '../audit/audit-query.responder';
import { ToolExecutorService } from '../execution/tool-executor.service';
import { TOOL_EXECUTOR_MIGRATIONS } from '../migrations';
import { calculatorTool, parametersOf, ToolRegistry } from '../tools';
import type { ToolDefinition } from '../tools';
import { argsHash, LedgerRepository } from './ledger.repository';

/** Issue 11 item 4: high-risk tool calls in `tool_executor.audit_log`, written by the ledger's own statements. */
describe('tool-executor audit log on real Postgres', () => {
  let pg: TestDatabase;
  let db: DataSource;
  let ledger: LedgerRepository;
  let executor: ToolExecutorService;
  const provider = new NodeTracerProvider();
  const tenant = `t-${randomUUID()}`;

  const Args = z.strictObject({ to: z.string(), token: z.string().optional() });
  const tool = (name: string, over: Partial<ToolDefinition<z.infer<typeof Args>>>): ToolDefinition<z.infer<typeof Args>> => ({
    name, description: name, argsSchema: Args, parameters: parametersOf(Args), permission: 'read', defaultRisk: 'auto', idempotency: 'idempotent_by_key',
    execute: async (a) => ({ sent: a.to }), ...over,
  });
  const rows = async (target: string) => (await db.query<{ action: string; actor: string; tenant: string; details: Record<string, unknown>; trace_id: string | null }[]>(
    'SELECT action, actor, tenant, details, trace_id FROM tool_executor.audit_log WHERE target = $1 ORDER BY id', [target]));
  let n = 0;
  const req = (name: string, args: Record<string, unknown>, extra: Partial<ExecuteToolRequest> = {}): ExecuteToolRequest =>
    ({ idempotencyKey: `task-1:1:${n++}:${randomUUID()}`, taskId: 'task-1', tenant, agent: 'ops', step: 1, name, arguments: args, timeoutMs: 2_000, ...extra });

  beforeAll(async () => {
    provider.register();
    pg = await createTestDatabase();
    db = await openDatabase({ url: pg.url, schema: 'tool_executor', migrations: TOOL_EXECUTOR_MIGRATIONS });
    await migrate(db, 'tool_executor');
    ledger = new LedgerRepository(db);
    const registry = new ToolRegistry([
      calculatorTool(),
      tool('send_mail', { permission: 'write', defaultRisk: 'review' }),
      tool('lookup', {}),
      tool('broken_write', { permission: 'write', execute: async () => { throw new Error('smtp down'); } }),
    ]);
    const agents = new Map<string, Agent>([['ops', AgentSchema.parse({
      name: 'ops', model: 'scripted/default',
      tools: [{ name: 'send_mail' }, { name: 'lookup' }, { name: 'broken_write' }, { name: 'calculator', risk: 'approve' }],
    })]]);
    executor = new ToolExecutorService(registry, ledger, agents);
  });
  afterAll(async () => {
    await db.destroy();
    await pg.drop();
    await provider.shutdown();
  });

  it('a write call gets tool.called and tool.succeeded with actor, trace id, args hash and gate id, never the arguments', async () => {
    const r = req('send_mail', { to: 'bob@example.com', token: 'sk-secret-123' }, { approvalGateId: 'gate-42' });
    const traceId = await withSpan('test step', {}, async (span) => {
      expect((await executor.execute(r)).ok).toBe(true);
      return span.spanContext().traceId;
    });
    const audit = await rows(r.idempotencyKey);
    expect(audit.map((a) => a.action)).toEqual(['tool.called', 'tool.succeeded']);
    for (const a of audit) {
      expect(a).toMatchObject({ tenant, actor: 'task:task-1', trace_id: traceId });
      expect(a.details).toMatchObject({ agent: 'ops', tool: 'send_mail', idempotencyKey: r.idempotencyKey, argsHash: argsHash(r.arguments), gateId: 'gate-42', permission: 'write' });
      expect(JSON.stringify(a.details)).not.toContain('sk-secret-123');
      expect(JSON.stringify(a.details)).not.toContain('bob@example.com');
    }
    expect(audit[1].details).toMatchObject({ ok: true });
    // A replay of the settled key runs nothing and records nothing more.
    expect((await executor.execute(r)).replayed).toBe(true);
    expect(await rows(r.idempotencyKey)).toHaveLength(2);
  });

  it('a failed write is tool.failed; a read call is not audited; a pure call with risk approve is', async () => {
    const failed = req('broken_write', { to: 'x' });
    expect((await executor.execute(failed)).ok).toBe(false);
    expect((await rows(failed.idempotencyKey)).map((a) => [a.action, a.details.error])).toEqual([['tool.called', undefined], ['tool.failed', 'tool_error']]);
    const read = req('lookup', { to: 'y' });
    expect((await executor.execute(read)).ok).toBe(true);
    expect(await rows(read.idempotencyKey)).toEqual([]);
    const calc = req('calculator', { expression: '2+2' });
    expect(await executor.execute(calc)).toMatchObject({ ok: true, result: { result: 4 } });
    expect((await rows(calc.idempotencyKey)).map((a) => a.action)).toEqual(['tool.called', 'tool.succeeded']);
  });

  it('a call in doubt that is refused is tool.outcome_unknown, once per attempt', async () => {
    const r = req('send_mail', { to: 'z' });
    await ledger.claim(r.idempotencyKey, { tenant, taskId: 'task-1', step: 1, tool: 'send_mail', argsHash: argsHash(r.arguments) }); // an executor died mid-call
    const notIdempotent = new ToolExecutorService(new ToolRegistry([tool('send_mail', { permission: 'write', idempotency: 'not_idempotent' })]), ledger,
      new Map([['ops', AgentSchema.parse({ name: 'ops', model: 'scripted/default', tools: [{ name: 'send_mail' }] })]]));
    await expect(notIdempotent.execute(r)).rejects.toMatchObject({ code: 'outcome_unknown' });
    await expect(notIdempotent.execute(r)).rejects.toMatchObject({ code: 'outcome_unknown' });
    expect((await rows(r.idempotencyKey)).map((a) => [a.action, a.details.attempts])).toEqual([['tool.outcome_unknown', 1]]);
    // A person said run it again: a new attempt is called, then settled.
    expect((await notIdempotent.execute({ ...r, forceInDoubt: true, approvalGateId: 'gate-7' })).ok).toBe(true);
    expect((await rows(r.idempotencyKey)).map((a) => [a.action, a.details.attempt ?? null])).toEqual([['tool.outcome_unknown', null], ['tool.called', 2], ['tool.succeeded', null]]);
  });

  it('is atomic with the ledger: a claim or settle that fails leaves neither the ledger change nor its audit row', async () => {
    const key = `atomic-${randomUUID()}`;
    const audit = { tenant, actor: 'task:t', target: key, details: { tool: 'send_mail' }, traceId: null };
    // The ledger row cannot be written (step is not a number): no audit row either.
    await expect(ledger.claim(key, { tenant, taskId: 't', step: 'x' as unknown as number, tool: 'send_mail', argsHash: 'h' }, audit)).rejects.toThrow();
    expect(await rows(key)).toEqual([]);
    // The audit row cannot be written (no tenant): the claim does not happen.
    await expect(ledger.claim(key, { tenant, taskId: 't', step: 1, tool: 'send_mail', argsHash: 'h' }, { ...audit, tenant: null as unknown as string })).rejects.toThrow();
    expect(await db.query('SELECT 1 FROM tool_executor.ledger WHERE idempotency_key = $1', [key])).toEqual([]);
    // Claimed; then a settle whose audit row fails leaves the key started.
    expect(await ledger.claim(key, { tenant, taskId: 't', step: 1, tool: 'send_mail', argsHash: 'h' }, audit)).toEqual({ state: 'claimed' });
    await expect(ledger.settle(key, { ok: true, result: 1, durationMs: 1 }, { ...audit, actor: null as unknown as string })).rejects.toThrow();
    expect((await db.query<{ status: string }[]>('SELECT status FROM tool_executor.ledger WHERE idempotency_key = $1', [key]))[0].status).toBe('started');
    expect((await rows(key)).map((a) => a.action)).toEqual(['tool.called']);
  });

  it('is append-only (UPDATE, DELETE and TRUNCATE refused) and answers the audit query for one tenant only', async () => {
    await expect(db.query(`UPDATE tool_executor.audit_log SET action = 'x.y' WHERE tenant = $1`, [tenant])).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM tool_executor.audit_log WHERE tenant = $1', [tenant])).rejects.toThrow(/append-only/);
    await expect(db.query('TRUNCATE tool_executor.audit_log')).rejects.toThrow(/append-only/);
    const items = await listToolAudit(db, { tenant, limit: 500 });
    expect(items.length).toBeGreaterThanOrEqual(8);
    expect(items.every((i) => i.tenant === tenant && i.service === 'tool-executor')).toBe(true);
    expect(items.map((i) => i.at)).toEqual([...items.map((i) => i.at)].sort().reverse());
    expect((await listToolAudit(db, { tenant, action: 'tool.failed', limit: 10 })).map((i) => i.details.tool)).toEqual(['broken_write']);
    expect(await listToolAudit(db, { tenant: 'someone-else', limit: 10 })).toEqual([]);
    expect(await listToolAudit(db, { tenant, since: new Date(Date.now() + 60_000).toISOString(), limit: 10 })).toEqual([]);
  });
});
