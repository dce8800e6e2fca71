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

/** A positive number (decimals allowed, e.g. 0.5 requests per second). */
export const envNumber = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.string().regex(/^\d+(\.\d+)?$/, 'must be a number such as 50 or 0.5').optional()
    .transform((v) => (v === undefined ? def : Number(v)))
    .pipe(z.number().min(min).max(max));

/** One tenant's rate-limit overrides (docs/rate-limits.md); anything left out keeps the global value. */
const RateOverrideSchema = z.object({
  rps: z.number().positive().optional(),
  burst: z.number().int().min(1).optional(),
  userRps: z.number().positive().optional(),
  userBurst: z.number().int().min(1).optional(),
  tasksPerMin: z.number().positive().optional(),
  tasksBurst: z.number().int().min(1).optional(),
}).strict();
export type RateOverride = z.infer<typeof RateOverrideSchema>;

/** `KEEL_RATE_OVERRIDES`: `{"tenantA": {"rps": 200, "burst": 400}}`; a bad document stops the service naming what is wrong. */
const rateOverrides = () => z.string().optional().transform((v, ctx): Record<string, RateOverride> => {
  if (v === undefined || v.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `must be JSON such as {"tenantA": {"rps": 200, "burst": 400}}: ${(err as Error).message}` });
    return z.NEVER;
  }
  const parsed = z.record(z.string().min(1).max(200), RateOverrideSchema).safeParse(doc);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    ctx.addIssue({ code: 'custom', message: `must map tenant ids to {rps?, burst?, userRps?, userBurst?, tasksPerMin?, tasksBurst?}: ${detail}` });
    return z.NEVER;
  }
  return parsed.data;
});

/** Settings every Keel service shares. */
export const baseEnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  NATS_URL: envUrl('nats://127.0.0.1:4222', ['nats:', 'tls:']),
  /** This service's NATS user and password (docs/nats-security.md; from a Kubernetes Secret). Unset: no authentication. */
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  /** TLS to NATS: CA of the server certificate; client certificate and key for mutual TLS. */
  NATS_TLS_CA_FILE: z.string().min(1).optional(),
  NATS_TLS_CERT_FILE: z.string().min(1).optional(),
  NATS_TLS_KEY_FILE: z.string().min(1).optional(),
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
  // Rate limits and size limits (docs/rate-limits.md).
  /** Off: no request or task-submission rate limits at all (size limits stay). */
  KEEL_RATE_LIMITS_ENABLED: envBool(true),
  /** Authenticated REST requests per second per tenant, and the burst a tenant may spend at once. */
  KEEL_RATE_TENANT_RPS: envNumber(50, 0.001, 1_000_000),
  KEEL_RATE_TENANT_BURST: envInt(100, 1, 10_000_000),
  /** Per user of a tenant, for requests naming a `userId` (task submissions, memory routes). */
  KEEL_RATE_USER_RPS: envNumber(10, 0.001, 1_000_000),
  KEEL_RATE_USER_BURST: envInt(20, 1, 10_000_000),
  /** Task submissions (REST and NATS) per tenant per minute; the burst defaults to one minute's worth. */
  KEEL_RATE_TENANT_TASKS_PER_MIN: envNumber(600, 0.001, 60_000_000),
  KEEL_RATE_TENANT_TASKS_BURST: envInt(0, 0, 10_000_000),
  /** Per-tenant overrides, JSON: {"tenantA": {"rps": 200, "burst": 400, "tasksPerMin": 3000}}. */
  KEEL_RATE_OVERRIDES: rateOverrides(),
  /** Buckets live in each process: the limits are divided by this (the replica count) so N replicas together stay near them. */
  KEEL_RATE_REPLICAS: envInt(1, 1, 1000),
  /** Buckets kept per scope (tenant, user, tasks); the least recently used are evicted beyond it. */
  KEEL_RATE_MAX_KEYS: envInt(10_000, 100, 10_000_000),
  /** Largest JSON request body (bytes); more is refused with 413 payload_too_large. */
  KEEL_MAX_BODY_BYTES: envInt(1_048_576, 1024, 64 * 1_048_576),
  /** Largest NATS payload a consumer or request handler accepts (bytes); keep it ≤ the server's max_payload (1 MiB by default). */
  KEEL_MAX_MESSAGE_BYTES: envInt(1_048_576, 1024, 64 * 1_048_576),
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
