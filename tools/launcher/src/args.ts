import { parseArgs } from 'node:util';
import { DEFAULT_PORT_BASE, MAX_REPLICAS, REPLICA_PORT_STEP, SERVICES, isServiceName } from './services';
import type { ServiceName } from './services';

export interface LauncherOptions {
  /** Replica count per service (1 when not named in --scale). */
  scale: Record<ServiceName, number>;
  /** The services to run, in canonical order. */
  only: ServiceName[];
  portBase: number;
  raw: boolean;
  demo: boolean;
  help: boolean;
}

/** A mistake on the command line: printed with the usage text, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export const USAGE = `Usage: npm start -- [options]
       node tools/launcher/dist/main.js [options]

Runs Keel's five services locally, with readable logs, restarts and a demo task.

Options:
  --scale <svc=N,...>   run N replicas of a service (replica i gets PORT = base + 10*i),
                        e.g. --scale orchestrator=2,tool-executor=2 (repeatable)
  --only <svc,...>      run only these services
  --port-base <port>    shift all ports: orchestrator=base, approval=+1, router=+2,
                        guardrail=+3, tool-executor=+4 (default ${DEFAULT_PORT_BASE})
  --raw                 print the services' JSON log lines unchanged
  --no-demo             do not submit the demo task once everything is ready
  -h, --help            show this help

Services: ${SERVICES.join(', ')}
Environment: NATS_URL, DATABASE_URL, KEEL_BOOTSTRAP_API_KEY, KEEL_APPROVAL_SIGNING_KEY, LOG_LEVEL, OTEL_* (passed to every service)`;

/** Edit distance, for "did you mean" on a misspelt service name. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function unknownService(name: string, flag: string): UsageError {
  const hint = SERVICES.find((s) => (name.length >= 3 && s.startsWith(name)) || editDistance(s, name) <= 2);
  const suggestion = hint ? ` (did you mean "${hint}"?)` : '';
  return new UsageError(`${flag}: unknown service "${name}"${suggestion}; services are ${SERVICES.join(', ')}`);
}

function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
}

export function parseScale(values: readonly string[]): Partial<Record<ServiceName, number>> {
  const scale: Partial<Record<ServiceName, number>> = {};
  for (const item of splitList(values)) {
    const m = /^([^=]+)=(.*)$/.exec(item);
    if (!m) throw new UsageError(`--scale: expected <service>=<replicas>, got "${item}"`);
    const name = m[1].trim();
    const count = m[2].trim();
    if (!isServiceName(name)) throw unknownService(name, '--scale');
    if (!/^\d+$/.test(count) || Number(count) < 1 || Number(count) > MAX_REPLICAS) {
      throw new UsageError(`--scale ${name}=${count}: replicas must be a whole number from 1 to ${MAX_REPLICAS}`);
    }
    scale[name] = Number(count);
  }
  return scale;
}

export function parseOnly(values: readonly string[]): ServiceName[] {
  const names = splitList(values);
  if (names.length === 0) return [...SERVICES];
  for (const n of names) if (!isServiceName(n)) throw unknownService(n, '--only');
  return SERVICES.filter((s) => names.includes(s));
}

export function parseLauncherArgs(argv: readonly string[]): LauncherOptions {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        scale: { type: 'string', multiple: true },
        only: { type: 'string', multiple: true },
        'port-base': { type: 'string' },
        raw: { type: 'boolean', default: false },
        'no-demo': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    // parseArgs' own messages are good ("Unknown option '--sacle'"); keep them, typed as usage errors.
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);

  const only = parseOnly(values.only ?? []);
  const partial = parseScale(values.scale ?? []);
  for (const name of Object.keys(partial) as ServiceName[]) {
    if (!only.includes(name)) throw new UsageError(`--scale names ${name}, but --only leaves it out`);
  }
  const scale = Object.fromEntries(SERVICES.map((s) => [s, partial[s] ?? 1])) as Record<ServiceName, number>;

  let portBase = DEFAULT_PORT_BASE;
  const rawBase = values['port-base'];
  if (rawBase !== undefined) {
    if (!/^\d+$/.test(rawBase)) throw new UsageError(`--port-base: expected a port number, got "${rawBase}"`);
    portBase = Number(rawBase);
  }
  const maxReplicas = Math.max(...only.map((s) => scale[s]));
  const highest = portBase + 4 + REPLICA_PORT_STEP * (maxReplicas - 1);
  if (portBase < 1 || highest > 65535) {
    throw new UsageError(`--port-base ${portBase}: ports would run from ${portBase} to ${highest}; they must lie within 1-65535`);
  }

  return { scale, only, portBase, raw: values.raw, demo: !values['no-demo'], help: values.help };
}
