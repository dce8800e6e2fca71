import { randomUUID } from 'node:crypto';
import type { ChatMessage, CompleteResponse } from '@keel/contracts';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { ORCHESTRATOR_MIGRATIONS } from '../migrations';
import { CheckpointRepository } from './checkpoint.repository';

describe('CheckpointRepository on real Postgres', () => {
  let pg: TestDatabase;
  let db: DataSource;
  let repo: CheckpointRepository;

  const newTask = async () => {
    const id = randomUUID();
    await db.query(
      `INSERT INTO orchestrator.tasks (id, tenant, agent, status, source, input, event_seq, deadline_at) VALUES ($1, 'default', 'demo', 'queued', 'rest', 'hi', 1, now() + interval '1 hour')`,
      [id],
    );
    return id;
  };
  const turn = { model: 'scripted/default', content: null, toolCalls: [{ name: 'noop', arguments: {} }], finishReason: 'tool_calls', usage: { inputTokens: 5, outputTokens: 1 }, costUsd: 0.001, attempts: [], scriptTurnsConsumed: 1 } as CompleteResponse;

  beforeAll(async () => {
    pg = await createTestDatabase();
    db = await openDatabase({ url: pg.url, schema: 'orchestrator', migrations: ORCHESTRATOR_MIGRATIONS });
    await migrate(db, 'orchestrator');
    repo = new CheckpointRepository(db);
  });
  afterAll(async () => {
    await db.destroy();
    await pg.drop();
  });

  it('commits a step once: a second runner of the same step writes nothing at all', async () => {
    const id = await newTask();
    const step = { taskId: id, step: 1, expectStep: 0, expectStatus: ['queued' as const, 'running' as const], status: 'running' as const, messages: [{ role: 'user', content: 'hi' } as ChatMessage], events: [{ type: 'step.completed', data: { step: 1 } }], modelCalls: 1, usage: { inputTokens: 5, outputTokens: 1, costUsd: 0.001 } };
    const first = await repo.commit(step);
    const second = await repo.commit(step);
    expect(first.committed).toBe(true);
    expect(first.events.map((e) => e.seq)).toEqual([2]);
    expect(second).toEqual({ committed: false, events: [] });
    const state = await repo.load(id);
    expect(state).toMatchObject({ step: 1, status: 'running', modelCalls: 1, transcript: [{ role: 'user', content: 'hi' }] });
    const [{ n }] = await db.query('SELECT count(*)::int AS n FROM orchestrator.task_events WHERE task_id = $1', [id]);
    expect(n).toBe(1);
  });

  it('lets only one runner write a model turn ahead for a step', async () => {
    const id = await newTask();
    const ahead = { taskId: id, step: 0, expectStep: 0, expectStatus: ['queued' as const, 'running' as const], status: 'running' as const, messages: [], events: [{ type: 'model.completed', data: {} }], modelCalls: 1, pending: { step: 1, turn }, expectNoPending: true };
    expect((await repo.commit(ahead)).committed).toBe(true);
    expect((await repo.commit(ahead)).committed).toBe(false);
    expect(await repo.load(id)).toMatchObject({ step: 0, modelCalls: 1, pending: { step: 1 } });
  });

  it('stores each message once per tenant however many steps and tasks refer to it (O(K) transcript bytes)', async () => {
    const system: ChatMessage = { role: 'system', content: 'x'.repeat(10_000) };
    for (const id of [await newTask(), await newTask()]) {
      let prev = 0;
      for (let k = 1; k <= 10; k++) {
        const messages: ChatMessage[] = k === 1 ? [system, { role: 'user', content: 'go' }] : [{ role: 'assistant', content: `step ${k}` }];
        const r = await repo.commit({ taskId: id, step: k, expectStep: prev, expectStatus: ['queued', 'running'], status: 'running', messages, events: [] });
        expect(r.committed).toBe(true);
        prev = k;
      }
      expect((await repo.load(id))!.transcript).toHaveLength(11);
    }
    const [{ copies }] = await db.query(`SELECT count(*)::int AS copies FROM orchestrator.messages WHERE content->>'role' = 'system' AND length(content->>'content') = 10000`);
    expect(copies).toBe(1);
  });

  it('appends events with gap-free sequence numbers without moving the step', async () => {
    const id = await newTask();
    const a = await repo.appendEvents(id, [{ type: 'tool.completed', data: {} }, { type: 'step.interrupted', data: {} }]);
    expect(a.map((e) => e.seq)).toEqual([2, 3]);
    expect((await repo.load(id))!.step).toBe(0);
  });
});
