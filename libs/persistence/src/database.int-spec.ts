import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createTestDatabase } from '@keel/testing';
import type { TestDatabase } from '@keel/testing';
import { migrate, migrationsApplied, openDatabase, isUniqueViolation, preparedQuery } from './database';

class CreateThings1700000000000 implements MigrationInterface {
  name = 'CreateThings1700000000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE svc.things (id text PRIMARY KEY)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE svc.things');
  }
}

describe('persistence on a real Postgres', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('creates the schema, applies migrations once even when replicas race, and reports readiness', async () => {
    const a = await openDatabase({ url: db.url, schema: 'svc', migrations: [CreateThings1700000000000] });
    const b = await openDatabase({ url: db.url, schema: 'svc', migrations: [CreateThings1700000000000] });
    expect(await migrationsApplied(a)).toBe(false);
    const [ra, rb] = await Promise.all([migrate(a, 'svc'), migrate(b, 'svc')]);
    expect([...ra, ...rb]).toEqual(['CreateThings1700000000000']);
    expect(await migrationsApplied(a)).toBe(true);
    const rows: { table_name: string }[] = await a.query("SELECT table_name FROM information_schema.tables WHERE table_schema='svc' ORDER BY 1");
    expect(rows.map((r) => r.table_name)).toEqual(['migrations', 'things']);
    await a.query("INSERT INTO svc.things VALUES ('x')");
    const dup = await a.query("INSERT INTO svc.things VALUES ('x')").catch((e: unknown) => e);
    expect(isUniqueViolation(dup)).toBe(true);
    // Hot paths use named prepared statements on the same pool.
    for (const id of ['p1', 'p2']) await preparedQuery(a, 'insert_thing', 'INSERT INTO svc.things VALUES ($1) RETURNING id', [id]);
    expect(await preparedQuery<{ id: string }>(a, 'count_things', 'SELECT id FROM svc.things ORDER BY id', [])).toEqual([{ id: 'p1' }, { id: 'p2' }, { id: 'x' }]);
    await a.destroy();
    await b.destroy();
  });
});
