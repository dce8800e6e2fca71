import { randomUUID } from 'node:crypto';
import type { ChatMessage } from '@keel/contracts';
import { migrate, openDatabase } from '@keel/persistence';
import type { DataSource } from '@keel/persistence';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { localEmbed } from '@keel/text';
import { CheckpointRepository } from '../checkpoints/checkpoint.repository';
import type { MemoryWrite } from '../checkpoints/checkpoint.repository';
import { ORCHESTRATOR_MIGRATIONS } from '../migrations';
import { MemoryRepository } from './memory.repository';

/** Memory rows written by the final checkpoint, read back per user, and deleted per user, on real Postgres. */
describe('MemoryRepository on real Postgres', () => {
  let pg: TestDatabase;
  let db: DataSource;
  let checkpoints: CheckpointRepository;
  let memory: MemoryRepository;

  /** A conversation task that answered: its final commit carries the memory write. */
  const finishTask = async (tenant: string, userId: string, conversationId: string, input: string, answer: string, facts: string[] = []) => {
    const id = randomUUID();
    await db.query(
      `INSERT INTO orchestrator.tasks (id, tenant, user_id, agent, status, source, input, conversation_id, deadline_at) VALUES ($1, $2, $3, 'demo', 'running', 'rest', $4, $5, now() + interval '1 hour')`,
      [id, tenant, userId, input, conversationId],
    );
    const remember: MemoryWrite = {
      userKey: userId, conversationId,
      turns: [{ message: { role: 'user', content: input }, embedding: localEmbed(input) }, { message: { role: 'assistant', content: answer }, embedding: localEmbed(answer) }],
      facts: facts.map((f) => ({ key: `k:${f}`, content: f, embedding: localEmbed(f) })),
    };
    const commit = {
      taskId: id, step: 1, expectStep: 0, expectStatus: ['running' as const], status: 'succeeded' as const, finished: true, output: answer,
      messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: input }, { role: 'assistant', content: answer }] as ChatMessage[], events: [], remember,
    };
    expect((await checkpoints.commit(commit)).committed).toBe(true);
    // A duplicate runner of the same final step writes nothing, memory included.
    expect((await checkpoints.commit(commit)).committed).toBe(false);
    return id;
  };

  beforeAll(async () => {
    pg = await createTestDatabase();
    db = await openDatabase({ url: pg.url, schema: 'orchestrator', migrations: ORCHESTRATOR_MIGRATIONS });
    await migrate(db, 'orchestrator');
    checkpoints = new CheckpointRepository(db);
    memory = new MemoryRepository(db);
  });
  afterAll(async () => {
    await db.destroy();
    await pg.drop();
  });

  it('records two turns per answered task, stores each fact once per user, and reads only the asking user\'s rows', async () => {
    await finishTask('t1', 'u1', 'c1', 'I prefer window seats.', 'Noted.', ['I prefer window seats.']);
    await finishTask('t1', 'u1', 'c1', 'I prefer window seats.', 'Noted again.', ['I prefer window seats.']);
    await finishTask('t1', 'u2', 'c1', 'I hate flying.', 'Sorry to hear.', ['I hate flying.']);
    await finishTask('t2', 'u1', 'c1', 'My name is Zed.', 'Hi Zed.', ['My name is Zed.']);

    const u1 = await memory.conversation('t1', 'u1', 'c1', 3);
    expect(u1.recent.map((t) => [t.role, t.content])).toEqual([['assistant', 'Noted.'], ['user', 'I prefer window seats.'], ['assistant', 'Noted again.']]);
    expect(u1.facts.map((f) => f.content)).toEqual(['I prefer window seats.']);
    expect(u1.facts[0].embedding).toHaveLength(384);

    const vectors = await memory.turnVectorsAfter('t1', 'u1', 0);
    expect(vectors).toHaveLength(4);
    // Ids of another user or tenant never come back, even when asked for by id.
    const foreign = (await memory.turnVectorsAfter('t1', 'u2', 0)).map((v) => v.id).concat((await memory.turnVectorsAfter('t2', 'u1', 0)).map((v) => v.id));
    expect(await memory.turns('t1', 'u1', foreign)).toEqual([]);
    expect((await memory.turns('t1', 'u1', vectors.map((v) => v.id))).map((t) => t.content).sort()).toEqual(['I prefer window seats.', 'I prefer window seats.', 'Noted again.', 'Noted.']);
  });

  it('saves a summary only over the one it replaces (a lost race changes nothing)', async () => {
    expect(await memory.saveSummary('t1', 'u1', 'c9', 'first', 10, 0)).toBe(true);
    expect(await memory.saveSummary('t1', 'u1', 'c9', 'second', 20, 10)).toBe(true);
    expect(await memory.saveSummary('t1', 'u1', 'c9', 'stale', 15, 10)).toBe(false);
    expect((await memory.conversation('t1', 'u1', 'c9', 0)).summary).toEqual({ text: 'second', throughId: 20 });
    expect(await memory.summary('t1', 'u1', 'c9')).toEqual({ text: 'second', throughId: 20 });
    expect(await memory.summary('t1', 'u1', 'none')).toBeNull();
  });

  it('forgets one user completely and leaves a message another user shares', async () => {
    await finishTask('t3', 'gone', 'c1', 'I live in Oslo.', 'Nice city.', ['I live in Oslo.']);
    await finishTask('t3', 'stays', 'c2', 'I live in Oslo.', 'Lovely.', ['I live in Oslo.']);
    await memory.saveSummary('t3', 'gone', 'c1', 'lives in Oslo', 1, 0);
    const report = await memory.forgetUser('t3', 'gone');
    expect(report).toMatchObject({ memoryItems: 3, summaries: 1, tasks: 1, taskMessages: 3 });
    // 'Nice city.' was only gone's; 'sys' and 'I live in Oslo.' are still referenced by stays.
    expect(report.messages).toBe(1);
    const left: { c: string }[] = await db.query(`SELECT content->>'content' AS c FROM orchestrator.messages WHERE tenant = 't3' ORDER BY 1`);
    expect(left.map((r) => r.c)).toEqual(['I live in Oslo.', 'Lovely.', 'sys']);
    expect((await memory.exportUser('t3', 'gone'))).toEqual({ userId: 'gone', conversations: [], facts: [], tasks: 0 });
    expect((await memory.exportUser('t3', 'stays')).facts.map((f) => f.content)).toEqual(['I live in Oslo.']);
  });
});
