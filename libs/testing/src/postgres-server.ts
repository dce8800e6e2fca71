import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { assertTestDatabase } from './database';
import { freePort } from './net';

const run = promisify(execFile);

/**
 * A private Postgres cluster for one test: its own data directory and port, so
 * a test may stop and restart it (crash-recovery tests) without touching the
 * machine's shared server. fsync stays on: durability is what such tests check.
 */
export interface TestPostgres {
  port: number;
  dataDir: string;
  /** The `keel_test_<hex>` database created at start. */
  dbName: string;
  /** The URL of `dbName`, or of another database of this cluster. */
  url(dbName?: string): string;
  /** Fast shutdown, then start again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops the server and deletes the data directory. */
  stop(): Promise<void>;
}

export const PG_BIN_ROOT = '/usr/lib/postgresql';

/** The newest installed `/usr/lib/postgresql/<version>/bin`, or `KEEL_TEST_PG_BIN`. */
export function postgresBinDir(): string {
  if (process.env.KEEL_TEST_PG_BIN) return process.env.KEEL_TEST_PG_BIN;
  const versions = existsSync(PG_BIN_ROOT)
    ? readdirSync(PG_BIN_ROOT).filter((v) => existsSync(join(PG_BIN_ROOT, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) throw new Error(`no Postgres server binaries under ${PG_BIN_ROOT}/<version>/bin: apt-get install postgresql, or set KEEL_TEST_PG_BIN`);
  return join(PG_BIN_ROOT, versions[0], 'bin');
}

/** initdb and postgres refuse to run as root: as root, run them as the `postgres` OS user. */
async function osUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function startPostgres(opts: { dbPrefix?: string } = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const user = await osUser();
  const root = mkdtempSync(join(tmpdir(), 'keel-pg-'));
  const dataDir = join(root, 'data');
  // The socket goes in the temp dir too: /var/run/postgresql belongs to the shared server.
  const socketDir = root;
  if (user) chownSync(root, user.uid, user.gid);
  const spawnOpts = user ? { uid: user.uid, gid: user.gid } : {};
  await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-instructions', '-E', 'UTF8', '--locale=C'], { ...spawnOpts, cwd: root })
    .catch((err: Error & { stderr?: string }) => { throw new Error(`initdb failed: ${err.stderr ?? err.message}`); });
  const port = await freePort();
  const log: string[] = [];
  let proc: ChildProcess | undefined;

  const launch = async () => {
    const p = spawn(join(bin, 'postgres'), [
      '-D', dataDir, '-p', String(port), '-k', socketDir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=on', '-c', 'synchronous_commit=on',
      '-c', 'max_connections=200', '-c', 'logging_collector=off',
    ], { ...spawnOpts, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      log.push(b.toString());
      if (log.length > 200) log.splice(0, log.length - 200);
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    proc = p;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`postgres exited with ${p.exitCode}: ${log.join('').slice(-2000)}`);
      const c = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      const ok = await c.connect().then(() => c.query('SELECT 1')).then(() => true, () => false);
      await c.end().catch(() => undefined);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`postgres on port ${port} not ready after 30 s: ${log.join('').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const halt = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    // SIGINT = "fast" shutdown: aborts open transactions, checkpoints, exits cleanly.
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGINT');
    });
  };

  const dbName = `${opts.dbPrefix ?? 'keel_test'}_${randomBytes(5).toString('hex')}`;
  assertTestDatabase(dbName);
  const url = (name = dbName) => `postgres://postgres@127.0.0.1:${port}/${name}`;
  try {
    await launch();
    const admin = new Client({ connectionString: url('postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${dbName}`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await halt();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  return {
    port, dataDir, dbName, url,
    restart: async () => {
      await halt();
      await launch();
    },
    stop: async () => {
      await halt();
      if (existsSync(root) && statSync(root).isDirectory()) rmSync(root, { recursive: true, force: true });
    },
  };
}
