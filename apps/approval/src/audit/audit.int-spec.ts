import { randomUUID } from 'node:crypto';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import { withSpan } from '@keel/telemetry';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { argsHash } from '../gates/args-hash';
import { GatesRepository } from '../gates/gates.repository';
import type { NewGate } from '../gates/gates.repository';
import { APPROVAL_MIGRATIONS } from '../migrations';
import { toAuditItem } from './audit-query.responder';

/** Issue 11 item 4: approval.audit_log rows carry the trace id of the span that wrote them and answer the merged audit query. */
describe('approval audit log on real Postgres', () => {
  let pg: TestDatabase;
  let db: DataSource;
  let repo: GatesRepository;
  const provider = new NodeTracerProvider();
  const tenant = `t-${randomUUID()}`;
  const gate = (taskId = randomUUID()): NewGate => {
    const args = { method: 'POST', url: 'https://api.example.com/orders' };
    return { tenant, taskId, step: 1, callIndex: 0, agent: 'ops', tool: 'http_request', arguments: args, argsHash: argsHash(args), tier: 'approve', reason: 'risk approve', kind: 'approve' };
  };

  beforeAll(async () => {
    provider.register();
    pg = await createTestDatabase();
    db = await openDatabase({ url: pg.url, schema: 'approval', migrations: APPROVAL_MIGRATIONS });
    await migrate(db, 'approval');
    repo = new GatesRepository(db);
  });
  afterAll(async () => {
    await db.destroy();
    await pg.drop();
    await provider.shutdown();
  });

  it('records the opening and the decision with actor, time and the trace id of the span that wrote each', async () => {
    const { opened, openTrace } = await withSpan('check', {}, async (span) => ({ opened: (await repo.open(gate())).gate, openTrace: span.spanContext().traceId }));
    const decideTrace = await withSpan('decide', {}, async (span) => {
      const decided = await repo.decide(opened, {
        status: 'approved', decidedBy: 'alice', comment: null, signature: 'sig',
        audit: { tenant, actor: 'alice', action: 'gate.approved', gateId: opened.id, details: { keyId: 'k-alice', decision: 'approve' } },
      });
      expect(decided?.status).toBe('approved');
      return span.spanContext().traceId;
    });
    const trail = await repo.auditTrail(opened.id);
    expect(trail.map((r) => [r.action, r.actor, r.traceId])).toEqual([['gate.opened', 'system', openTrace], ['gate.approved', 'alice', decideTrace]]);

    const items = (await repo.auditOf(tenant, { limit: 10 })).map(toAuditItem);
    expect(items[0]).toMatchObject({ service: 'approval', tenant, actor: 'alice', actorKeyId: 'k-alice', action: 'gate.approved', target: `gate:${opened.id}`, traceId: decideTrace });
    expect(items.map((i) => i.action)).toEqual(['gate.approved', 'gate.opened']);
    expect((await repo.auditOf(tenant, { action: 'gate.opened', limit: 10 })).map((r) => r.action)).toEqual(['gate.opened']);
    expect(await repo.auditOf(tenant, { since: new Date(Date.now() + 60_000).toISOString(), limit: 10 })).toEqual([]);
    expect(await repo.auditOf(`${tenant}-other`, { limit: 10 })).toEqual([]);
  });

  it('a decision that does not apply (already decided) writes no audit row', async () => {
    const { gate: opened } = await repo.open(gate());
    const decision = { status: 'rejected' as const, decidedBy: 'bob', comment: null, signature: 's', audit: { tenant, actor: 'bob', action: 'gate.rejected', gateId: opened.id } };
    expect(await repo.decide(opened, decision)).not.toBeNull();
    expect(await repo.decide(opened, { ...decision, decidedBy: 'carol', audit: { ...decision.audit, actor: 'carol' } })).toBeNull();
    expect((await repo.auditTrail(opened.id)).map((r) => r.actor)).toEqual(['system', 'bob']);
  });

  it('is append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    await expect(db.query(`UPDATE approval.audit_log SET actor = 'x' WHERE tenant = $1`, [tenant])).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM approval.audit_log WHERE tenant = $1', [tenant])).rejects.toThrow(/append-only/);
    await expect(db.query('TRUNCATE approval.audit_log')).rejects.toThrow(/append-only/);
  });
});
