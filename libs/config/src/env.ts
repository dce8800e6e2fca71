import { z } from 'zod';

/**
 * Parses configuration once, at boot, from the environment. A bad or missing
 * value stops the service with a message naming the variable, so a typo in a
 * ConfigMap shows up in `kubectl logs` rather than as odd behaviour later.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = new.target.name;
  }
}

type Env = Record<string, string | undefined>;

export function parseEnv<S extends z.ZodObject>(schema: S, env: Env = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.');
    const got = env[name];
    const shown = got === undefined ? 'it is not set' : `got ${JSON.stringify(redactIfSecret(name, got))}`;
    return `${name}: ${issue.message} (${shown})`;
  });
  throw new ConfigError(problems);
}

const SECRET_NAME = /KEY|SECRET|TOKEN|PASSWORD/i;
function redactIfSecret(name: string, value: string): string {
  return SECRET_NAME.test(name) ? '<redacted>' : value;
}

/** Helpers for the shapes environment variables take. */
export const envBool = (def: boolean) =>
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional().transform((v) => (v === undefined ? def : ['true', '1', 'yes'].includes(v)));

export const envInt = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.string().regex(/^\d+$/, 'must be a whole number').optional()
    .transform((v) => (v === undefined ? def : Number(v)))
    .pipe(z.number().int().min(min).max(max));

export const envUrl = (def: string, protocols: string[]) =>
  z.string().default(def).refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, { message: `must be a URL with scheme ${protocols.map((p) => p.replace(':', '://')).join(' or ')}` });

export const envList = () => z.string().optional().transform((v) => (v ?? '').split(/[,:]/).map((s) => s.trim()).filter(Boolean));

/** Settings every Keel service shares. */
export const baseEnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  NATS_URL: envUrl('nats://127.0.0.1:4222', ['nats:', 'tls:']),
  DATABASE_URL: envUrl('postgres://postgres@127.0.0.1:5432/keel', ['postgres:', 'postgresql:']),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  KEEL_INSTANCE: z.string().default('0'),
  /** JetStream replicas of Keel's streams: 1 on a single server, 3 on a 3-node NATS cluster. */
  KEEL_STREAM_REPLICAS: envInt(1, 1, 5),
  /** Postgres connections per process. */
  KEEL_DB_POOL_SIZE: envInt(10, 1, 500),
  /** Apply this service's migrations at start (dev and compose); production runs `migrate` as a Job. */
  KEEL_MIGRATE_ON_START: envBool(true),
  /** How long SIGTERM waits for in-flight work before handing it back. */
  KEEL_SHUTDOWN_TIMEOUT_MS: envInt(10_000, 100, 600_000),
  /** Extra agent directories (colon or comma separated), e.g. a ConfigMap mount. */
  KEEL_AGENTS_DIR: envList(),
  /** Root of the repo's own `agents/`; defaults to the working directory's. */
  KEEL_BUILTIN_AGENTS_DIR: z.string().default('agents'),
});
export type BaseEnv = z.output<typeof baseEnvSchema>;

export const portSchema = (def: number) => envInt(def, 1, 65535);

/** A URL safe to print: any password replaced (connection strings carry them). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
