import { DataSource } from 'typeorm';
import type { MigrationInterface } from 'typeorm';

/**
 * One TypeORM data source per service, in the service's own Postgres schema
 * (services never read each other's tables). Schema changes only through
 * migrations (`synchronize` is off); `migrate()` serialises concurrent
 * replicas with an advisory lock so a scaled start-up applies each once.
 */
export type MigrationClass = new () => MigrationInterface;

export interface ServiceDatabaseOptions {
  url: string;
  schema: string;
  migrations: MigrationClass[];
  poolSize?: number;
  applicationName?: string;
}

export async function openDatabase(opts: ServiceDatabaseOptions): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    url: opts.url,
    schema: opts.schema,
    migrations: opts.migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    applicationName: opts.applicationName ?? `keel-${opts.schema}`,
    extra: { max: opts.poolSize ?? 10, connectionTimeoutMillis: 5000 },
  });
  await ds.initialize();
  return ds;
}

/** Applies pending migrations; returns the names applied. Safe to call from several replicas at once. */
export async function migrate(ds: DataSource, schema: string): Promise<string[]> {
  const qr = ds.createQueryRunner();
  await qr.connect();
  try {
    await qr.query('SELECT pg_advisory_lock(hashtext($1))', [`keel-migrate-${schema}`]);
    await qr.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await qr.query('SELECT pg_advisory_unlock(hashtext($1))', [`keel-migrate-${schema}`]).catch(() => undefined);
    await qr.release();
  }
}

/** True when every migration the code knows is applied (used by /readyz). */
export async function migrationsApplied(ds: DataSource): Promise<boolean> {
  try {
    return !(await ds.showMigrations());
  } catch {
    return false;
  }
}

export async function databaseReachable(ds: DataSource): Promise<boolean> {
  try {
    await ds.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

/**
 * A named prepared statement on the data source's own pg pool, for hot paths:
 * Postgres parses and plans it once per connection instead of on every call,
 * and the client stops resending the SQL text. Same pool, same transactions
 * semantics as `ds.query` (a single statement is its own transaction).
 */
export async function preparedQuery<R>(ds: DataSource, name: string, text: string, values: unknown[]): Promise<R[]> {
  const pool = (ds.driver as unknown as { master: PgPool }).master;
  const res = await pool.query({ name, text, values });
  return res.rows as R[];
}

interface PgPool {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** Postgres unique-violation, for idempotent inserts that prefer catching to ON CONFLICT. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  return e?.code === '23505' || e?.driverError?.code === '23505';
}

export { DataSource };
export type { MigrationInterface };
export type { QueryRunner } from 'typeorm';
