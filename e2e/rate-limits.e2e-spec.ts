import { createHash, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { headers } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Streams, Subjects } from '@keel/contracts';
import type { DeadLetter } from '@keel/contracts';
import { startKeel, waitFor } from '@keel/testing';
import type { KeelStack } from '@keel/testing';

interface Reply {
  status: number;
  retryAfter: string | null;
  body: { id?: string; error?: { code: string; message: string; details?: { scope: string; retryAfterMs: number } } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Rate and size limits through the five real processes (docs/rate-limits.md):
 * small limits set by env; tenant A bursts, tenant B is served meanwhile; no
 * task is lost or duplicated by a 429; a user limit within a tenant; 413 for
 * an oversized body; the NATS intake defers over-limit submissions instead of
 * dropping or dead-lettering them.
 */
describe('rate limits end to end (five processes)', () => {
  let keel: KeelStack;
  let db: Client;
  const keyB = `keel_b_${randomUUID()}`;
  const script = { script: [{ content: 'ok' }] };

  const post = async (body: Record<string, unknown>, key = keel.apiKey): Promise<Reply> => {
    const res = await fetch(`${keel.url('orchestrator')}/v1/tasks`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ input: 'hello', agent: 'demo', metadata: script, ...body }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Reply['body'] };
  };
  const get = async (id: string, key: string): Promise<number> => (await fetch(`${keel.url('orchestrator')}/v1/tasks/${id}`, { headers: { Authorization: `Bearer ${key}` } })).status;
  const tasksOf = async (tenant: string) => (await db.query<{ id: string }>('SELECT id FROM orchestrator.tasks WHERE tenant = $1', [tenant])).rows.map((r) => r.id);

  beforeAll(async () => {
    keel = await startKeel({
      env: {
        KEEL_RATE_TENANT_RPS: '5', KEEL_RATE_TENANT_BURST: '10',
        KEEL_RATE_USER_RPS: '1', KEEL_RATE_USER_BURST: '3',
        KEEL_RATE_TENANT_TASKS_PER_MIN: '600',
        KEEL_RATE_OVERRIDES: JSON.stringify({ 'nats-tenant': { tasksPerMin: 60, tasksBurst: 3 } }),
      },
    });
    db = new Client({ connectionString: keel.db.url });
    await db.connect();
    const hash = (k: string) => createHash('sha256').update(k).digest('hex');
    await db.query(`INSERT INTO orchestrator.api_keys (id, tenant, role, name, prefix, key_hash) VALUES ($1, 'tenant-b', 'admin', 'b', 'keel_b_x', $2)`, [randomUUID(), hash(keyB)]);
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await keel?.stop();
  });

  it('a burst of 60 from tenant A gets some 202 and the rest 429 with Retry-After; tasks created = 202s; tenant B is served throughout', async () => {
    // B has one task to read during A's burst.
    const seed = await post({ input: 'b seed' }, keyB);
    expect(seed.status).toBe(202);

    const burstA = Promise.all(Array.from({ length: 60 }, (_, i) => post({ input: `a ${i}` })));
    // Meanwhile B submits and reads, within its own budget (5/s, burst 10; 1 token went on the seed).
    const duringB = (async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const [p, g] = await Promise.all([post({ input: `b ${i}` }, keyB), get(seed.body.id!, keyB)]);
        statuses.push(p.status, g);
      }
      return statuses;
    })();
    const [a, b] = await Promise.all([burstA, duringB]);

    expect(b).toEqual([202, 200, 202, 200, 202, 200, 202, 200]);
    const accepted = a.filter((r) => r.status === 202);
    const limited = a.filter((r) => r.status === 429);
    expect(accepted.length + limited.length).toBe(60);
    expect(accepted.length).toBeGreaterThanOrEqual(10); // the burst
    expect(accepted.length).toBeLessThan(30); // plus what refilled at 5/s while the burst ran
    for (const r of limited) {
      expect(r.body.error).toMatchObject({ code: 'rate_limited', details: { scope: 'tenant' } });
      expect(r.body.error!.details!.retryAfterMs).toBeGreaterThan(0);
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(r.retryAfter)).toBe(Math.ceil(r.body.error!.details!.retryAfterMs / 1000));
    }
    // Nothing lost, nothing duplicated, nothing created by a 429.
    const ids = accepted.map((r) => r.body.id!);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await tasksOf('default')).sort()).toEqual([...ids].sort());
    expect(await tasksOf('tenant-b')).toHaveLength(5);
  }, 60_000);

  it('a user limit bounds one user of a tenant while another user of the same tenant is served', async () => {
    await sleep(2_500); // B's tenant bucket refills (5/s)
    const u1: Reply[] = [];
    for (let i = 0; i < 5; i++) u1.push(await post({ input: `u1 ${i}`, userId: 'u1' }, keyB));
    expect(u1.map((r) => r.status)).toEqual([202, 202, 202, 429, 429]);
    expect(u1[3].body.error).toMatchObject({ code: 'rate_limited', details: { scope: 'user' } });
    expect(u1[3].retryAfter).toBe('1');
    const u2 = await post({ input: 'u2', userId: 'u2' }, keyB);
    expect(u2.status).toBe(202);
  }, 30_000);

  it('refuses an oversized body with 413 before anything else', async () => {
    const res = await fetch(`${keel.url('orchestrator')}/v1/tasks`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${keyB}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ input: 'x'.repeat(1_100_000), agent: 'demo' }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as Reply['body']).error).toMatchObject({ code: 'payload_too_large' });
  });

  it('health, readiness and metrics are exempt', async () => {
    for (let i = 0; i < 30; i++) {
      expect((await fetch(`${keel.url('orchestrator')}/healthz`)).status).toBe(200);
    }
    expect((await fetch(`${keel.url('orchestrator')}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${keel.url('orchestrator')}/metrics`)).text();
    expect(metrics).toMatch(/keel_rate_limited_total\{[^}]*scope="tenant"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/keel_rate_limited_total\{[^}]*scope="user"[^}]*\} [1-9]/);
  });

  it('after waiting Retry-After, tenant A succeeds again', async () => {
    let refused: Reply | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const r = await post({ input: `drain ${i}` });
      if (r.status === 429) refused = r;
    }
    expect(refused).toBeDefined();
    await sleep(Number(refused!.retryAfter) * 1000);
    const again = await post({ input: 'after the wait' });
    expect(again.status).toBe(202);
  }, 30_000);

  it('the NATS intake defers over-limit submissions (nak with delay): every task is created, none dead-lettered', async () => {
    const nc = await connect({ servers: keel.nats.url });
    try {
      const js = jetstream(nc);
      const N = 8;
      for (let i = 0; i < N; i++) {
        const h = headers();
        h.set('Keel-Tenant', 'nats-tenant');
        await js.publish(Subjects.tasksSubmit, JSON.stringify({ input: `nats ${i}`, agent: 'demo', metadata: script }), { headers: h, msgID: `rl-${randomUUID()}` });
      }
      // 60/min with a burst of 3: 3 at once, the rest come back as their budget allows.
      await waitFor('all NATS tasks created', async () => (await tasksOf('nats-tenant')).length === N, 45_000, 250);
      const metrics = await (await fetch(`${keel.url('orchestrator')}/metrics`)).text();
      expect(metrics).toMatch(/keel_rate_limited_total\{[^}]*scope="tenant_tasks"[^}]*\} [1-9]/);
      expect(metrics).toMatch(/keel_messages_consumed_total\{[^}]*outcome="deferred"[^}]*\} [1-9]/);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(Streams.deadLetters).catch(() => null);
      const letters: DeadLetter[] = [];
      for (let seq = info?.state.first_seq ?? 1; info && info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(Streams.deadLetters, { seq }).catch(() => null);
        if (m) letters.push(m.json<DeadLetter>());
      }
      expect(letters.filter((l) => l.subject === Subjects.tasksSubmit)).toEqual([]);
    } finally {
      await nc.close();
    }
  }, 60_000);
});
