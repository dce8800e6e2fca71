import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { DeadLetterSchema, Streams } from '@keel/contracts';
import type { DeadLetter, Role } from '@keel/contracts';
import { SERVICES } from './keel-stack';
import type { KeelStack, ServiceName } from './keel-stack';

/**
 * The HTTP surface of a running Keel and its dead letters, for suites that
 * walk every endpoint (tenant isolation, hostile input): routes come from each
 * service's `GET /openapi.json` at run time, so a new route is walked as soon
 * as it is documented, and `sourceRoutes()` reads the controllers so an
 * undocumented route is noticed too.
 */
export interface ApiRoute {
  service: ServiceName;
  method: string;
  /** OpenAPI form: `/v1/tasks/{id}`. */
  path: string;
}

export const routeKey = (r: ApiRoute): string => `${r.service} ${r.method} ${r.path}`;

/** Served by every service (service-kit's HealthController) whether or not its document lists them; `/openapi.json` too when it has a document. */
export const HEALTH_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every route of the five services: each one's `/openapi.json` (404 = no REST API document) plus the health routes. */
export async function fetchRouteInventory(keel: KeelStack): Promise<ApiRoute[]> {
  const routes = new Map<string, ApiRoute>();
  const add = (r: ApiRoute) => routes.set(routeKey(r), r);
  for (const service of SERVICES) {
    for (const path of HEALTH_PATHS) add({ service, method: 'GET', path });
    const res = await fetch(`${keel.url(service)}/openapi.json`);
    if (res.status === 404) continue;
    if (!res.ok) throw new Error(`${service} /openapi.json answered ${res.status}`);
    add({ service, method: 'GET', path: '/openapi.json' });
    const doc = (await res.json()) as { paths?: Record<string, Record<string, unknown>> };
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const method of Object.keys(item)) if (HTTP_METHODS.includes(method)) add({ service, method: method.toUpperCase(), path });
    }
  }
  return [...routes.values()].sort((a, b) => routeKey(a).localeCompare(routeKey(b)));
}

export interface SourceRoute extends ApiRoute {
  /** `@RequireRoles(...)` of the handler; null = public. */
  roles: Role[] | null;
  file: string;
}

const ROOT = resolve(__dirname, '../../..');

function controllerFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...controllerFiles(p));
    else if (/\.controller\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

const toOpenApiPath = (prefix: string, sub: string): string => {
  const joined = `/${[prefix, sub].filter(Boolean).join('/')}`.replace(/\/+/g, '/');
  return (joined.length > 1 ? joined.replace(/\/$/, '') : joined).replace(/:(\w+)/g, '{$1}');
};

function parseController(file: string): Omit<SourceRoute, 'service'>[] {
  const src = readFileSync(file, 'utf8');
  const routes: Omit<SourceRoute, 'service'>[] = [];
  // One class per controller file; its prefix and class-level roles precede `export class`.
  for (const cls of src.split(/(?=@Controller\()/).slice(1)) {
    const head = /@Controller\((?:'([^']*)')?\)/.exec(cls)!;
    const prefix = head[1] ?? '';
    const classHead = cls.slice(0, cls.indexOf('class '));
    const classRoles = /@RequireRoles\(([^)]*)\)/.exec(classHead)?.[1];
    const body = cls.slice(cls.indexOf('class '));
    // A run of decorators followed by the method they decorate.
    const block = /((?:@\w+\([^)]*\)\s*)+)(?:async\s+)?\w+\s*\(/g;
    for (let m = block.exec(body); m; m = block.exec(body)) {
      const decorators = m[1];
      const route = /@(Get|Post|Put|Patch|Delete)\((?:'([^']*)')?\)/.exec(decorators);
      if (!route) continue;
      const roleArgs = /@RequireRoles\(([^)]*)\)/.exec(decorators)?.[1] ?? classRoles;
      const roles = roleArgs === undefined ? null : [...roleArgs.matchAll(/'(\w+)'/g)].map((r) => r[1] as Role);
      routes.push({ method: route[1].toUpperCase(), path: toOpenApiPath(prefix, route[2] ?? ''), roles, file: file.slice(ROOT.length + 1) });
    }
  }
  return routes;
}

/** The routes the services' controllers declare, with their `@RequireRoles` (a static read of the sources). */
export function sourceRoutes(root = ROOT): SourceRoute[] {
  const health = parseController(join(root, 'libs/service-kit/src/health/health.controller.ts'));
  const out: SourceRoute[] = [];
  for (const service of SERVICES) {
    out.push(...health.map((r) => ({ ...r, service })));
    for (const file of controllerFiles(join(root, 'apps', service, 'src'))) out.push(...parseController(file).map((r) => ({ ...r, service })));
  }
  return out;
}

/** Inserts an API key straight into the orchestrator's table (as e2e/api-keys does) and returns the secret. */
export async function insertApiKey(db: Client, tenant: string, role: Role, name = `${tenant}-${role}`): Promise<{ id: string; key: string }> {
  const key = `keel_${tenant}_${role}_${randomUUID()}`;
  const id = randomUUID();
  await db.query('INSERT INTO orchestrator.api_keys (id, tenant, role, name, prefix, key_hash) VALUES ($1, $2, $3, $4, $5, $6)',
    [id, tenant, role, name, key.slice(0, 8), createHash('sha256').update(key).digest('hex')]);
  return { id, key };
}

/** Every dead letter in `KEEL_DLQ` with a sequence above `afterSeq` (as `keel dead-letters` reads them: getMessage by sequence). */
export async function readAllDeadLetters(natsUrl: string, afterSeq = 0): Promise<{ lastSeq: number; letters: (DeadLetter & { seq: number })[] }> {
  const nc = await connect({ servers: natsUrl, timeout: 2000, reconnect: false, name: 'keel-test-dlq-reader' });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const info = await jsm.streams.info(Streams.deadLetters).catch(() => null);
    if (!info || info.state.messages === 0) return { lastSeq: info?.state.last_seq ?? afterSeq, letters: [] };
    const letters: (DeadLetter & { seq: number })[] = [];
    for (let seq = Math.max(afterSeq + 1, info.state.first_seq); seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(Streams.deadLetters, { seq }).catch(() => null);
      if (!m) continue;
      const parsed = DeadLetterSchema.safeParse(m.json());
      if (parsed.success) letters.push({ ...parsed.data, seq });
    }
    return { lastSeq: info.state.last_seq, letters };
  } finally {
    await nc.close().catch(() => undefined);
  }
}
