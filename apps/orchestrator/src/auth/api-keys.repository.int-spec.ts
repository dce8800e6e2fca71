import { createHash, randomUUID } from 'node:crypto';
import type { Role } from '@keel/contracts';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { AuditLog } from '../audit/audit-log';
import type { AuditEntry, Queryable } from '../audit/audit-log';
import { ORCHESTRATOR_MIGRATIONS } from '../migrations';
import { ApiKeysRepository } from './api-keys.repository';

/** Key administration and its audit trail on real Postgres: secrets are never stored, and every change commits with its audit row or not at all. */
describe('ApiKeysRepository and AuditLog on real Postgres', () => {
  let pg: TestDatabase;
  let db: DataSource;
  let audit: AuditLog;
  let keys: ApiKeysRepository;
  const admin = { keyId: randomUUID(), name: 'root' };
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  const auditRows = async (target: string) =>
    db.query<{ action: string; actor_key_id: string; actor_name: string; tenant: string; details: Record<string, unknown> }[]>('SELECT * FROM orchestrator.audit_log WHERE target = $1 ORDER BY id', [target]);

  /** An audit log that fails after the change it records was written: the change must roll back with it. */
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
    keys = new ApiKeysRepository(db, audit);
  });
  afterAll(async () => {
    await db.destroy();
    await pg.drop();
  });

  it('creates a key that resolves, storing its SHA-256 and prefix but never the key, with an audit row naming the actor', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000);
    const created = await keys.create({ tenant: 't1', role: 'submitter', name: 'ci', expiresAt }, admin);
    expect(created).toMatchObject({ tenant: 't1', role: 'submitter', name: 'ci', expiresAt: expiresAt.toISOString() });
    expect(created.key.startsWith(`${created.prefix}_`)).toBe(true);
    const [row] = await db.query('SELECT * FROM orchestrator.api_keys WHERE id = $1', [created.id]);
    expect(row.key_hash).toBe(sha(created.key));
    expect(JSON.stringify(row)).not.toContain(created.key);
    expect(await keys.findActive(created.key)).toEqual({ keyId: created.id, tenant: 't1', role: 'submitter', name: 'ci' });
    expect((await keys.lookup(created.key))!.expiresAt).toBe(expiresAt.getTime());

    const [entry] = await auditRows(created.id);
    expect(entry).toMatchObject({ tenant: 't1', action: 'api_key.created', actor_key_id: admin.keyId, actor_name: 'root', details: { prefix: created.prefix, role: 'submitter', name: 'ci' } });
    expect(JSON.stringify(await db.query('SELECT * FROM orchestrator.audit_log'))).not.toContain(created.key);
  });

  it('lists only the tenant\'s keys, without secrets or hashes', async () => {
    const mine = await keys.create({ tenant: 't2', role: 'viewer', name: 'dash' }, admin);
    const theirs = await keys.create({ tenant: 't3', role: 'viewer', name: 'dash' }, admin);
    const listed = await keys.list('t2');
    expect(listed).toEqual([{ id: mine.id, prefix: mine.prefix, tenant: 't2', role: 'viewer', name: 'dash', createdAt: expect.any(String), expiresAt: null, revokedAt: null }]);
    const json = JSON.stringify(listed);
    expect(json).not.toContain(mine.key);
    expect(json).not.toContain(sha(mine.key));
    expect(json).not.toContain(theirs.id);
  });

  it('revokes idempotently, within the tenant only, with one audit row', async () => {
    const k = await keys.create({ tenant: 't4', role: 'approver', name: 'ops' }, admin);
    expect(await keys.revoke('other', k.id, admin)).toBe('not_found');
    expect(await keys.findActive(k.key)).not.toBeNull();
    expect(await keys.revoke('t4', k.id, admin)).toBe('revoked');
    expect(await keys.findActive(k.key)).toBeNull();
    expect(await keys.revoke('t4', k.id, admin)).toBe('already_revoked');
    expect(await keys.revoke('t4', randomUUID(), admin)).toBe('not_found');
    expect((await auditRows(k.id)).map((r) => r.action)).toEqual(['api_key.created', 'api_key.revoked']);
    expect((await keys.list('t4'))[0].revokedAt).not.toBeNull();
  });

  it('rotates: the new key has the same tenant, role and name; the old one works through the grace period only', async () => {
    const old = await keys.create({ tenant: 't5', role: 'submitter', name: 'worker' }, admin);
    await expect(keys.rotate('other', old.id, { graceSeconds: 0 }, admin)).rejects.toMatchObject({ code: 'not_found' });
    const next = await keys.rotate('t5', old.id, { graceSeconds: 1 }, admin);
    expect(next).toMatchObject({ tenant: 't5', role: 'submitter', name: 'worker', expiresAt: null });
    expect(next.id).not.toBe(old.id);
    expect(await keys.findActive(next.key)).toMatchObject({ keyId: next.id });
    expect(await keys.findActive(old.key)).toMatchObject({ keyId: old.id });
    const [{ expires_at: graceEnd }] = await db.query<{ expires_at: Date }[]>('SELECT expires_at FROM orchestrator.api_keys WHERE id = $1', [old.id]);
    expect(graceEnd.getTime()).toBeGreaterThan(Date.now());
    expect(graceEnd.getTime()).toBeLessThanOrEqual(Date.now() + 1500);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await keys.findActive(old.key)).toBeNull();
    expect(await keys.findActive(next.key)).not.toBeNull();
    // An expired key is not rotated again.
    await expect(keys.rotate('t5', old.id, { graceSeconds: 0 }, admin)).rejects.toMatchObject({ code: 'conflict' });

    const [, rotated] = await auditRows(old.id);
    expect(rotated).toMatchObject({ action: 'api_key.rotated', details: { prefix: old.prefix, newKeyId: next.id, newPrefix: next.prefix, graceSeconds: 1 } });
    expect(JSON.stringify(rotated)).not.toContain(next.key);

    // Without grace the old key is revoked at once; a revoked key cannot be rotated; the new key inherits a lifetime.
    const limited = await keys.create({ tenant: 't5', role: 'viewer', name: 'short', expiresAt: new Date(Date.now() + 3 * 86_400_000) }, admin);
    const replaced = await keys.rotate('t5', limited.id, { graceSeconds: 0 }, admin);
    expect(await keys.findActive(limited.key)).toBeNull();
    expect(new Date(replaced.expiresAt!).getTime()).toBeGreaterThan(Date.now() + 2.9 * 86_400_000);
    await expect(keys.rotate('t5', limited.id, { graceSeconds: 0 }, admin)).rejects.toMatchObject({ code: 'conflict' });
    // A grace period never extends a key that expires sooner.
    const soon = await keys.create({ tenant: 't5', role: 'viewer', name: 'soon', expiresAt: new Date(Date.now() + 60_000) }, admin);
    await keys.rotate('t5', soon.id, { graceSeconds: 86_400 }, admin);
    const [{ expires_at: kept }] = await db.query<{ expires_at: Date }[]>('SELECT expires_at FROM orchestrator.api_keys WHERE id = $1', [soon.id]);
    expect(kept.getTime()).toBeLessThan(Date.now() + 61_000);
  });

  it('writes a change and its audit row in one transaction: a failing key insert leaves no audit row, a failing audit write leaves no change', async () => {
    const before = Number((await db.query('SELECT count(*) AS n FROM orchestrator.audit_log'))[0].n);
    // The role CHECK constraint refuses the insert.
    await expect(keys.create({ tenant: 't6', role: 'owner' as Role, name: 'bad' }, admin)).rejects.toThrow();
    expect(Number((await db.query('SELECT count(*) AS n FROM orchestrator.audit_log'))[0].n)).toBe(before);

    const failing = new ApiKeysRepository(db, new FailingAudit(db));
    await expect(failing.create({ tenant: 't6', role: 'viewer', name: 'ghost' }, admin)).rejects.toThrow('audit write failed');
    expect(await keys.list('t6')).toEqual([]);
    const k = await keys.create({ tenant: 't6', role: 'viewer', name: 'real' }, admin);
    await expect(failing.revoke('t6', k.id, admin)).rejects.toThrow('audit write failed');
    expect(await keys.findActive(k.key)).not.toBeNull();
    await expect(failing.rotate('t6', k.id, { graceSeconds: 0 }, admin)).rejects.toThrow('audit write failed');
    expect(await keys.findActive(k.key)).not.toBeNull();
    expect(await keys.list('t6')).toHaveLength(1);
    expect(Number((await db.query('SELECT count(*) AS n FROM orchestrator.audit_log'))[0].n)).toBe(before + 1);
  });

  it('keeps the audit log append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    await audit.record(null, { tenant: 't7', actor: null, action: 'memory.deleted', target: 'user:u1', details: { deleted: 3 } });
    await expect(db.query(`UPDATE orchestrator.audit_log SET action = 'x.y' WHERE tenant = 't7'`)).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM orchestrator.audit_log WHERE tenant = 't7'`)).rejects.toThrow(/append-only/);
    await expect(db.query('TRUNCATE orchestrator.audit_log')).rejects.toThrow(/append-only/);
    expect(await audit.list('t7')).toEqual([{ id: expect.any(String), tenant: 't7', actorKeyId: null, actorName: null, action: 'memory.deleted', target: 'user:u1', details: { deleted: 3 }, traceId: null, at: expect.any(String) }]);
  });

  it('lists a tenant\'s audit entries newest first, filtered by action and time, limited', async () => {
    for (let i = 0; i < 5; i++) await audit.record(null, { tenant: 't8', actor: admin, action: i % 2 ? 'api_key.revoked' : 'api_key.created', target: `k${i}` });
    const all = await audit.list('t8');
    expect(all.map((e) => e.target)).toEqual(['k4', 'k3', 'k2', 'k1', 'k0']);
    expect((await audit.list('t8', { action: 'api_key.revoked' })).map((e) => e.target)).toEqual(['k3', 'k1']);
    expect((await audit.list('t8', { limit: 2 })).map((e) => e.target)).toEqual(['k4', 'k3']);
    expect(await audit.list('t8', { since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect(await audit.list('t9')).toEqual([]);
  });
});
