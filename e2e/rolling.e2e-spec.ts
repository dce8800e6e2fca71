import { Client } from 'pg';
import type { TaskView } from '@keel/contracts';
import { startKeel, waitFor } from '@keel/testing';
import type { KeelStack, ServiceName } from '@keel/testing';

/**
 * A rolling restart under load: each service gets SIGTERM (as Kubernetes
 * sends it) while tasks run, and comes back. In-flight steps finish or are
 * handed back and redelivered; no task is lost or left unfinished.
 */
describe('rolling restart under load', () => {
  let keel: KeelStack;
  let db: Client;

  beforeAll(async () => {
    keel = await startKeel({ replicas: { orchestrator: 2, 'tool-executor': 2 } });
    db = new Client({ connectionString: keel.db.url });
    await db.connect();
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await keel?.stop();
  });

  it('drops no task when every service is rolled with SIGTERM during load', async () => {
    const headers = { Authorization: `Bearer ${keel.apiKey}`, 'Content-Type': 'application/json' };
    // Each step takes ~50 ms of model latency, so steps are in flight whenever a replica is rolled.
    const script = [
      ...Array.from({ length: 5 }, (_, i) => ({ toolCalls: [{ name: 'calculator', arguments: { expression: `${i}+1` } }], latencyMs: 50 })),
      { content: 'done' },
    ];
    const ids: string[] = [];
    const submitting = (async () => {
      for (let i = 0; i < 40; i++) {
        // Like a client behind a Service: a refused connection is retried on the other replica with the same Idempotency-Key.
        for (let attempt = 0; attempt < 20; attempt++) {
          const res = await fetch(`${keel.url('orchestrator', (i + attempt) % 2)}/v1/tasks`, { method: 'POST', headers: { ...headers, 'Idempotency-Key': `roll-${i}` }, body: JSON.stringify({ input: `roll ${i}`, metadata: { script } }) }).catch(() => null);
          if (res?.ok) {
            ids.push(((await res.json()) as { id: string }).id);
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const order: [ServiceName, number][] = [['orchestrator', 0], ['tool-executor', 0], ['router', 0], ['orchestrator', 1], ['guardrail', 0], ['tool-executor', 1], ['approval', 0]];
    for (const [service, replica] of order) {
      await new Promise((r) => setTimeout(r, 250));
      await keel.kill(service, replica, 'SIGTERM');
      await keel.start(service, replica);
    }
    await submitting;
    expect(new Set(ids).size).toBe(40);
    const rows = await waitFor('every task finished', async () => {
      const r = (await db.query(`SELECT id, status, error FROM orchestrator.tasks WHERE id = ANY($1)`, [ids])).rows as Pick<TaskView, 'id' | 'status' | 'error'>[];
      return r.length === ids.length && r.every((t) => ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(t.status)) ? r : undefined;
    }, 90_000, 250);
    // The error says why a task did not make it (e.g. a step dead-lettered after its deliveries).
    expect(rows.filter((r) => r.status !== 'succeeded').map((r) => `${r.id} ${r.status} ${JSON.stringify(r.error)}`)).toEqual([]);
  }, 180_000);
});
