import { createHash, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { startKeel, startOtlpReceiver } from '@keel/testing';
import type { KeelStack, OtlpReceiver } from '@keel/testing';

interface CreatedKey { id: string; key: string; prefix: string; tenant: string; role: string; name: string; expiresAt: string | null }
interface KeyView { id: string; prefix: string; tenant: string; role: string; name: string; createdAt: string; expiresAt: string | null; revokedAt: string | null }
interface AuditItem { id: string; tenant: string; actorKeyId: string | null; actorName: string | null; action: string; target: string | null; details: Record<string, unknown>; traceId: string | null; at: string }

/**
 * API key administration through the running orchestrator: roles, tenancy,
 * revocation that takes effect at once on the replica that revoked, rotation
 * with a grace period, and an audit log that names the actor and never holds
 * a secret.
 */
describe('API keys and the audit log end to end', () => {
  let keel: KeelStack;
  let otlp: OtlpReceiver;
  let db: Client;
  const otherAdminKey = `keel_other_${randomUUID()}`;
  const otherAdminId = randomUUID();
  const secrets: string[] = [];

  const call = async <T = Record<string, unknown>>(path: string, key: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(`${keel.url('orchestrator')}${path}`, {
      method: init.method ?? 'GET',
      headers: { Authorization: `Bearer ${key}`, ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, text };
  };
  const create = async (body: Record<string, unknown>, key = keel.apiKey): Promise<CreatedKey> => {
    const res = await call<CreatedKey>('/v1/admin/api-keys', key, { method: 'POST', body });
    expect({ status: res.status, body: res.body }).toEqual({ status: 201, body: expect.objectContaining({ key: expect.any(String) }) });
    secrets.push(res.body.key);
    return res.body;
  };
  const submit = (key: string) => call('/v1/tasks', key, { method: 'POST', body: { input: 'What is 2+2?', metadata: { script: [{ content: '4' }] } } });
  const listKeys = async (key = keel.apiKey) => call<{ items: KeyView[] }>('/v1/admin/api-keys', key);

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    keel = await startKeel({ otlpUrl: otlp.url });
    db = new Client({ connectionString: keel.db.url });
    await db.connect();
    await db.query(`INSERT INTO orchestrator.api_keys (id, tenant, role, name, prefix, key_hash) VALUES ($1, 'other', 'admin', 'other-admin', 'keel_oth', $2)`,
      [otherAdminId, createHash('sha256').update(otherAdminKey).digest('hex')]);
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await keel?.stop();
    await otlp?.close();
  });

  it('the bootstrap admin creates a submitter key that can submit tasks but not administer keys', async () => {
    const sub = await create({ role: 'submitter', name: 'ci pipeline', expiresInDays: 30 });
    expect(sub).toMatchObject({ tenant: 'default', role: 'submitter', name: 'ci pipeline', prefix: expect.stringMatching(/^keel_/) });
    expect(new Date(sub.expiresAt!).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await submit(sub.key)).status).toBe(202);
    for (const [path, method, body] of [['/v1/admin/api-keys', 'GET'], ['/v1/admin/api-keys', 'POST', { role: 'admin', name: 'escalate' }], ['/v1/admin/audit', 'GET'], [`/v1/admin/api-keys/${sub.id}`, 'DELETE']] as const) {
      const res = await call(path, sub.key, { method, body });
      expect({ path, method, status: res.status, code: (res.body as { error?: { code: string } })?.error?.code }).toEqual({ path, method, status: 403, code: 'forbidden' });
    }
    // The listing shows the key without its secret.
    const listed = await listKeys();
    expect(listed.status).toBe(200);
    expect(listed.body.items.find((k) => k.id === sub.id)).toEqual({ id: sub.id, prefix: sub.prefix, tenant: 'default', role: 'submitter', name: 'ci pipeline', createdAt: expect.any(String), expiresAt: sub.expiresAt, revokedAt: null });
    expect(listed.text).not.toContain(sub.key);
  });

  it('a viewer cannot submit', async () => {
    const viewer = await create({ role: 'viewer', name: 'dashboard' });
    const res = await submit(viewer.key);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('refuses bad input with 400 and a clear message, changing nothing', async () => {
    const before = (await listKeys()).body.items.length;
    const cases: [unknown, RegExp][] = [
      [{ role: 'owner', name: 'x' }, /role/],
      [{ role: 'viewer', name: '' }, /name is 1–100 characters/],
      [{ role: 'viewer', name: 'x', expiresInDays: 1000 }, /at most 730/],
      [{ role: 'viewer', name: 'x', expiresAt: '2001-01-01T00:00:00Z' }, /not in the future/],
      [{ role: 'viewer', name: 'x', key: 'keel_chosen_by_me' }, /key/],
    ];
    for (const [body, message] of cases) {
      const res = await call<{ error: { code: string; message: string } }>('/v1/admin/api-keys', keel.apiKey, { method: 'POST', body });
      expect({ body, status: res.status, code: res.body.error.code }).toEqual({ body, status: 400, code: 'invalid_request' });
      expect(res.body.error.message).toMatch(message);
    }
    const rotate = await call<{ error: { message: string } }>(`/v1/admin/api-keys/${randomUUID()}/rotate`, keel.apiKey, { method: 'POST', body: { graceSeconds: 86_401 } });
    expect(rotate.status).toBe(400);
    expect(rotate.body.error.message).toMatch(/graceSeconds/);
    expect((await call('/v1/admin/audit?limit=501', keel.apiKey)).status).toBe(400);
    expect((await listKeys()).body.items).toHaveLength(before);
  });

  it('an admin of another tenant can neither see, revoke or rotate tenant default\'s keys nor create keys for it', async () => {
    const target = await create({ role: 'submitter', name: 'default worker' });
    const theirs = await listKeys(otherAdminKey);
    expect(theirs.status).toBe(200);
    expect(theirs.body.items.map((k) => k.tenant)).toEqual(['other']);
    expect((await call(`/v1/admin/api-keys/${target.id}`, otherAdminKey, { method: 'DELETE' })).status).toBe(404);
    expect((await call(`/v1/admin/api-keys/${target.id}/rotate`, otherAdminKey, { method: 'POST', body: {} })).status).toBe(404);
    const cross = await call('/v1/admin/api-keys', otherAdminKey, { method: 'POST', body: { tenant: 'default', role: 'admin', name: 'sneaky' } });
    expect(cross.status).toBe(403);
    expect(cross.body).toMatchObject({ error: { code: 'forbidden' } });
    // Still working, and nothing was recorded for tenant default by the other admin.
    expect((await submit(target.key)).status).toBe(202);
    const own = await create({ role: 'viewer', name: 'their viewer' }, otherAdminKey);
    expect(own.tenant).toBe('other');
    const audit = await call<{ items: AuditItem[] }>('/v1/admin/audit', otherAdminKey);
    expect(audit.body.items.map((e) => [e.tenant, e.action, e.actorKeyId])).toEqual([['other', 'api_key.created', otherAdminId]]);
  });

  it('a revoked key answers 401 at once on the replica that revoked it; revoking again is a no-op', async () => {
    const sub = await create({ role: 'submitter', name: 'to revoke' });
    expect((await submit(sub.key)).status).toBe(202); // now cached by the resolver
    expect((await call(`/v1/admin/api-keys/${sub.id}`, keel.apiKey, { method: 'DELETE' })).status).toBe(204);
    const after = await submit(sub.key);
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await call(`/v1/admin/api-keys/${sub.id}`, keel.apiKey, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`/v1/admin/api-keys/${randomUUID()}`, keel.apiKey, { method: 'DELETE' })).status).toBe(404);
    expect((await listKeys()).body.items.find((k) => k.id === sub.id)!.revokedAt).not.toBeNull();
  });

  it('rotation: the new key works at once, the old one through the grace period and not after it', async () => {
    const old = await create({ role: 'submitter', name: 'rotating' });
    expect((await submit(old.key)).status).toBe(202);
    const res = await call<CreatedKey>(`/v1/admin/api-keys/${old.id}/rotate`, keel.apiKey, { method: 'POST', body: { graceSeconds: 1 } });
    expect(res.status).toBe(201);
    const next = res.body;
    secrets.push(next.key);
    expect(next).toMatchObject({ tenant: 'default', role: 'submitter', name: 'rotating' });
    expect(next.id).not.toBe(old.id);
    expect(next.key).not.toBe(old.key);
    expect((await submit(next.key)).status).toBe(202);
    expect((await submit(old.key)).status).toBe(202);
    await new Promise((r) => setTimeout(r, 1300));
    expect((await submit(old.key)).status).toBe(401);
    expect((await submit(next.key)).status).toBe(202);
  });

  it('the audit log lists every change with its actor, newest first, and never a secret', async () => {
    const res = await call<{ items: AuditItem[] }>('/v1/admin/audit?limit=500', keel.apiKey);
    expect(res.status).toBe(200);
    // Key changes; besides them the tenant's log holds only the agent policies this deploy loaded (docs/audit.md).
    const items = res.body.items.filter((e) => e.action.startsWith('api_key.'));
    expect(res.body.items.filter((e) => !e.action.startsWith('api_key.')).every((e) => e.action === 'policy.changed' && e.actorName === 'deploy:0')).toBe(true);
    const actions = items.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['api_key.created', 'api_key.revoked', 'api_key.rotated']));
    expect(actions.filter((a) => a === 'api_key.revoked')).toHaveLength(1); // the second DELETE recorded nothing
    expect(items.every((e) => e.tenant === 'default' && e.actorName === 'bootstrap' && e.actorKeyId !== null)).toBe(true);
    expect(items.map((e) => Number(e.id))).toEqual([...items.map((e) => Number(e.id))].sort((a, b) => b - a));
    expect(items[0].action).toBe('api_key.rotated');
    // The entry's trace id leads to the span of the change (Jaeger).
    expect(items[0].traceId).toMatch(/^[0-9a-f]{32}$/);
    await otlp.waitFor((spans) => spans.some((s) => s.traceId === items[0].traceId && s.name === 'api_key.rotate'), 10_000);
    expect(items[0].details).toMatchObject({ graceSeconds: 1, newPrefix: expect.stringMatching(/^keel_/) });
    for (const secret of [...secrets, keel.apiKey, otherAdminKey]) expect(res.text).not.toContain(secret);

    const rotated = await call<{ items: AuditItem[] }>('/v1/admin/audit?action=api_key.rotated&limit=5', keel.apiKey);
    expect(rotated.body.items.map((e) => e.action)).toEqual(['api_key.rotated']);
    const future = await call<{ items: AuditItem[] }>(`/v1/admin/audit?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, keel.apiKey);
    expect(future.body.items).toEqual([]);
  });

  it('publishes the routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${keel.url('orchestrator')}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/admin/api-keys', '/v1/admin/api-keys/{id}', '/v1/admin/api-keys/{id}/rotate', '/v1/admin/audit']));
  });
});
