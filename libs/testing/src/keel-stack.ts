import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createTestDatabase } from './database';
import type { TestDatabase } from './database';
import { freePort, waitFor } from './net';
import { startNats } from './nats-server';
import type { TestNats } from './nats-server';

/**
 * The five services as real processes (built `dist/main.js`), on a private
 * nats-server and a fresh test database, for end-to-end tests. Each replica
 * can be killed and restarted, as Kubernetes would.
 */
export const SERVICES = ['orchestrator', 'approval', 'router', 'guardrail', 'tool-executor'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface KeelStackOptions {
  agentsDir?: string;
  otlpUrl?: string;
  apiKey?: string;
  env?: Record<string, string>;
  /** Extra environment for one service's processes (e.g. a different OTLP protocol). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  replicas?: Partial<Record<ServiceName, number>>;
  /** Use this database (e.g. on a private `startPostgres()` cluster) instead of creating one; the caller owns it. */
  databaseUrl?: string;
  /** Use this NATS (e.g. to restart it mid-test) instead of starting one; the caller owns it. */
  nats?: TestNats;
}

export interface KeelProcess {
  service: ServiceName;
  replica: number;
  port: number;
  pid?: number;
  running: boolean;
}

export interface KeelStack {
  nats: TestNats;
  db: TestDatabase;
  apiKey: string;
  url(service: ServiceName, replica?: number): string;
  env: Record<string, string>;
  logs(service: ServiceName, replica?: number): string;
  kill(service: ServiceName, replica?: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a replica (again, on its port); `wait: false` returns once spawned, without waiting for /readyz. */
  start(service: ServiceName, replica?: number, opts?: { wait?: boolean }): Promise<void>;
  /** SIGKILL, then start again on the same port: a crash and a restart by the orchestrator of containers. */
  restart(service: ServiceName, replica?: number, opts?: { wait?: boolean }): Promise<void>;
  /** Every replica the stack has started, running or not. */
  processes(): KeelProcess[];
  stop(): Promise<void>;
}

const ROOT = resolve(__dirname, '../../..');

export async function startKeel(opts: KeelStackOptions = {}): Promise<KeelStack> {
  const ownNats = !opts.nats;
  const ownDb = !opts.databaseUrl;
  const nats = opts.nats ?? await startNats();
  const db: TestDatabase = opts.databaseUrl
    ? { url: opts.databaseUrl, name: new URL(opts.databaseUrl).pathname.slice(1), drop: async () => undefined }
    : await createTestDatabase();
  const apiKey = opts.apiKey ?? 'keel-e2e-admin-key';
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    NATS_URL: nats.url,
    DATABASE_URL: db.url,
    KEEL_BOOTSTRAP_API_KEY: apiKey,
    // One HMAC key for every process that signs (approval) or verifies (orchestrator) approval decisions.
    KEEL_APPROVAL_SIGNING_KEY: randomBytes(32).toString('hex'),
    KEEL_BUILTIN_AGENTS_DIR: resolve(ROOT, 'agents'),
    LOG_LEVEL: process.env.KEEL_TEST_LOG_LEVEL ?? 'warn',
    // Suites and benches submit hundreds of tasks and poll every few ms as one tenant: rate limits far above
    // that (docs/rate-limits.md); a test of the limits sets its own in `env`.
    KEEL_RATE_TENANT_RPS: '1000000', KEEL_RATE_TENANT_BURST: '1000000', KEEL_RATE_USER_RPS: '1000000', KEEL_RATE_USER_BURST: '1000000',
    KEEL_RATE_TENANT_TASKS_PER_MIN: '60000000',
    ...(opts.agentsDir ? { KEEL_AGENTS_DIR: opts.agentsDir } : {}),
    ...(opts.otlpUrl
      ? { OTEL_EXPORTER_OTLP_ENDPOINT: opts.otlpUrl, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100' }
      : { OTEL_SDK_DISABLED: 'true' }),
    ...opts.env,
  };
  const procs = new Map<string, { proc?: ChildProcess; port: number; out: string[] }>();
  const key = (s: ServiceName, r: number) => `${s}.${r}`;
  const start = async (service: ServiceName, replica = 0, startOpts: { wait?: boolean } = {}) => {
    const k = key(service, replica);
    const slot = procs.get(k) ?? { port: await freePort(), out: [] };
    procs.set(k, slot);
    // KEEL_TEST_NODE_ARGS passes node flags NODE_OPTIONS refuses (e.g. --cpu-prof for profiling a run).
    const nodeArgs = (process.env.KEEL_TEST_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const proc = spawn(process.execPath, [...nodeArgs, resolve(ROOT, 'apps', service, 'dist', 'main.js')], {
      cwd: ROOT,
      env: { ...baseEnv, ...opts.serviceEnv?.[service], PORT: String(slot.port), KEEL_INSTANCE: String(replica) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => {
      slot.out.push(b.toString());
      if (slot.out.length > 500) slot.out.splice(0, slot.out.length - 500);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    slot.proc = proc;
    slot.out.push(`--- ${k} started, pid ${proc.pid} ---\n`);
    if (startOpts.wait === false) return;
    await waitFor(`${k} ready`, async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${k} exited with ${proc.exitCode}: ${slot.out.join('').slice(-2000)}`);
      const res = await fetch(`http://127.0.0.1:${slot.port}/readyz`).catch(() => null);
      return res?.ok ?? false;
    }, 30_000, 100);
  };
  const kill = async (service: ServiceName, replica = 0, signal: NodeJS.Signals = 'SIGKILL') => {
    const slot = procs.get(key(service, replica));
    const p = slot?.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill(signal);
    });
  };
  // The orchestrator first: it owns the key table the others verify against.
  try {
    for (const s of SERVICES) {
      for (let r = 0; r < (opts.replicas?.[s] ?? 1); r++) await start(s, r);
    }
  } catch (err) {
    for (const k of procs.keys()) {
      const [s, r] = k.split('.');
      await kill(s as ServiceName, Number(r));
    }
    if (ownNats) await nats.stop();
    if (ownDb) await db.drop();
    throw err;
  }
  return {
    nats, db, apiKey, env: baseEnv,
    url: (s, r = 0) => `http://127.0.0.1:${procs.get(key(s, r))!.port}`,
    logs: (s, r = 0) => procs.get(key(s, r))?.out.join('') ?? '',
    kill, start,
    restart: async (s, r = 0, startOpts) => {
      await kill(s, r, 'SIGKILL');
      await start(s, r, startOpts);
    },
    processes: () => [...procs.entries()].map(([k, slot]) => {
      const [s, r] = k.split('.');
      const p = slot.proc;
      return { service: s as ServiceName, replica: Number(r), port: slot.port, pid: p?.pid, running: !!p && p.exitCode === null && p.signalCode === null };
    }),
    stop: async () => {
      await Promise.all([...procs.keys()].map((k) => {
        const [s, r] = k.split('.');
        return kill(s as ServiceName, Number(r), 'SIGTERM');
      }));
      if (ownNats) await nats.stop();
      if (ownDb) await db.drop();
    },
  };
}
