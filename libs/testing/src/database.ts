import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * A fresh Postgres database per test file on the machine's server, dropped
 * afterwards. Refuses any database whose name does not say it is a test one,
 * so a misconfigured URL can never point a test at real data.
 */
export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export const TEST_PG_SERVER = process.env.KEEL_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function assertTestDatabase(name: string): void {
  if (!/(^|_)test(_|$)/.test(name)) throw new Error(`refusing to use database "${name}" in tests: its name must contain "test"`);
}

export async function createTestDatabase(prefix = 'keel_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  assertTestDatabase(name);
  const admin = new Client({ connectionString: TEST_PG_SERVER });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_PG_SERVER);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const c = new Client({ connectionString: TEST_PG_SERVER });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
