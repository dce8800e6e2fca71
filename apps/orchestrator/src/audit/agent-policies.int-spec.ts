import { AgentSchema } from '@keel/contracts';
import type { Agent } from '@keel/contracts';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import type { Logger } from '@keel/telemetry';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { ORCHESTRATOR_MIGRATIONS } from '../migrations';
import { AgentPolicyTracker, policyFingerprint } from './agent-policies';
import { AuditLog } from './audit-log';
import type { AuditEntry, Queryable } from './audit-log';

/** Issue 11 item 4: agent policy changes recorded once per change, atomically with the stored fingerprint. */
describe('AgentPolicyTracker on real Postgres', () => {
  let pg: TestDatabase;
  let db: DataSource;
  let audit: AuditLog;
  const logger = { info: () => undefined, error: () => undefined } as unknown as Logger;
  const agent = (d: Record<string, unknown>): Agent => AgentSchema.parse({ model: 'scripted/default', ...d });
  const agentsOf = (...a: Agent[]) => new Map(a.map((x) => [x.name, x]));
  const tracker = (agents: Map<string, Agent>, instance = '0', log = audit) =>
    new AgentPolicyTracker(db, agents, log, { KEEL_INSTANCE: instance, KEEL_POLICY_AUDIT_TENANT: 'ops' }, logger);
  const changes = async () => db.query<{ tenant: string; actor_name: string; actor_key_id: string | null; target: string; details: Record<string, unknown> }[]>(
    "SELECT tenant, actor_name, actor_key_id, target, details FROM orchestrator.audit_log WHERE action = 'policy.changed' ORDER BY id");

  class FailingAudit extends AuditLog {
    override async record(q: Queryable | null, entry: AuditEntry): Promise<void> {
      await super.record(q, entry);
      throw new Error('audit write failed');
    }
  }

  beforeAll(async () => {
    pg = await createTestDatabase();
    db = await openDatabase({ url: pg.url, schema: 'orchestrator', migrations: ORCHESTRATOR_MIGRATIONS });
    await migrate(db, 'orchestrator');
    audit = new AuditLog(db);
  });
  afterAll(async () => {
    await db.destroy();
    await pg.drop();
  });

  const v1 = agent({ name: 'ops', description: 'first', tools: [{ name: 'http_request', allow: ['example.com'], risk: 'review' }] });
  const v2 = agent({ name: 'ops', description: 'first', tools: [{ name: 'http_request', allow: ['example.com'], risk: 'approve' }], limits: { maxSteps: 3 } });

  it('fingerprints policy fields only, per top-level key', () => {
    expect(policyFingerprint(v1).hash).toBe(policyFingerprint(agent({ ...v1, description: 'reworded' })).hash);
    expect(Object.keys(policyFingerprint(v1).keys)).not.toContain('description');
    expect(policyFingerprint(v1).hash).not.toBe(policyFingerprint(v2).hash);
    expect(policyFingerprint(agent({ name: 'b', model: 'scripted/default', budgets: { daily: { limitUsd: 1 } } })).keys.budgets).toBeDefined();
  });

  it('records new, changed and removed agents once, with actor deploy:<instance>, even when replicas start together', async () => {
    // A failing audit row leaves the fingerprint unstored: the next start records the change.
    await expect(tracker(agentsOf(v1), '0', new FailingAudit(db)).sync()).rejects.toThrow('audit write failed');
    expect(await db.query('SELECT 1 FROM orchestrator.agent_policies')).toEqual([]);
    expect(await changes()).toEqual([]);

    await Promise.all([tracker(agentsOf(v1), '0').sync(), tracker(agentsOf(v1), '1').sync(), tracker(agentsOf(v1), '2').sync()]);
    let rows = await changes();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tenant: 'ops', actor_key_id: null, actor_name: expect.stringMatching(/^deploy:[012]$/), target: 'agent:ops', details: { agent: 'ops', change: 'added', oldHash: null, newHash: policyFingerprint(v1).hash } });

    // Same files again: nothing new.
    expect(await tracker(agentsOf(v1)).sync()).toEqual([]);

    // A changed file, three replicas at once: one row naming the changed keys.
    const [a, b, c] = await Promise.all([tracker(agentsOf(v2), '0').sync(), tracker(agentsOf(v2), '1').sync(), tracker(agentsOf(v2), '2').sync()]);
    expect(a.length + b.length + c.length).toBe(1);
    rows = await changes();
    expect(rows).toHaveLength(2);
    expect(rows[1].details).toEqual({ agent: 'ops', change: 'changed', changedKeys: ['limits', 'tools'], oldHash: policyFingerprint(v1).hash, newHash: policyFingerprint(v2).hash });

    // The agent is gone, another arrives.
    const other = agent({ name: 'other' });
    await Promise.all([tracker(agentsOf(other), '0').sync(), tracker(agentsOf(other), '1').sync()]);
    rows = await changes();
    expect(rows.slice(2).map((r) => [r.details.agent, r.details.change])).toEqual([['ops', 'removed'], ['other', 'added']]);
    expect(rows[2].details).toMatchObject({ oldHash: policyFingerprint(v2).hash, newHash: null });
  });
});
