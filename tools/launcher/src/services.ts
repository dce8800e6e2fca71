/**
 * The five Keel services, their default HTTP port offsets and how replicas map
 * to ports. Pure: no I/O, so the port plan is unit-tested.
 */
export const SERVICES = ['orchestrator', 'approval', 'router', 'guardrail', 'tool-executor'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const DEFAULT_PORT_BASE = 8080;
/** Replica i of a service listens on base + offset + REPLICA_PORT_STEP * i. */
export const REPLICA_PORT_STEP = 10;
export const MAX_REPLICAS = 10;

/** Offsets from the port base: orchestrator 8080, approval 8081, … tool-executor 8084. */
export const PORT_OFFSET: Record<ServiceName, number> = {
  orchestrator: 0,
  approval: 1,
  router: 2,
  guardrail: 3,
  'tool-executor': 4,
};

export function isServiceName(s: string): s is ServiceName {
  return (SERVICES as readonly string[]).includes(s);
}

export interface Replica {
  service: ServiceName;
  index: number;
  port: number;
  /** `orchestrator.0`: the log prefix and the name used in messages. */
  label: string;
}

export interface PortPlanInput {
  portBase: number;
  only: readonly ServiceName[];
  scale: Partial<Record<ServiceName, number>>;
}

export function replicaPort(service: ServiceName, index: number, portBase: number): number {
  return portBase + PORT_OFFSET[service] + REPLICA_PORT_STEP * index;
}

/** Every replica to run, in service order then replica order. */
export function planReplicas(input: PortPlanInput): Replica[] {
  const out: Replica[] = [];
  for (const service of SERVICES) {
    if (!input.only.includes(service)) continue;
    const n = input.scale[service] ?? 1;
    for (let index = 0; index < n; index++) {
      out.push({ service, index, port: replicaPort(service, index, input.portBase), label: `${service}.${index}` });
    }
  }
  return out;
}

/** The service entry point relative to the repository root. */
export function serviceEntry(service: ServiceName): string {
  return `apps/${service}/dist/main.js`;
}

/**
 * The environment one replica starts with, on top of the shared one. Rate-limit buckets live in each
 * process, so every limit is divided by the service's replica count (`KEEL_RATE_REPLICAS`) unless
 * the operator set it: N replicas together still admit the configured rate, not N times it.
 */
export function replicaEnv(r: Replica, replicas: readonly Replica[], shared: Record<string, string | undefined>): Record<string, string | undefined> {
  return {
    ...shared,
    PORT: String(r.port),
    KEEL_INSTANCE: String(r.index),
    KEEL_RATE_REPLICAS: shared.KEEL_RATE_REPLICAS ?? String(replicas.filter((x) => x.service === r.service).length),
    // Migrations already ran in the launcher; replicas starting together must not race on them.
    KEEL_MIGRATE_ON_START: shared.KEEL_MIGRATE_ON_START ?? 'false',
  };
}
