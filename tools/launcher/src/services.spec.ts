import { planReplicas, replicaEnv, replicaPort, serviceEntry, SERVICES } from './services';

describe('port plan', () => {
  const all = [...SERVICES];

  it('gives each service its default port', () => {
    expect(planReplicas({ portBase: 8080, only: all, scale: {} }).map((r) => [r.label, r.port])).toEqual([
      ['orchestrator.0', 8080], ['approval.0', 8081], ['router.0', 8082], ['guardrail.0', 8083], ['tool-executor.0', 8084],
    ]);
  });

  it('puts replica i at base + offset + 10*i, and shifts everything with the base', () => {
    const plan = planReplicas({ portBase: 18080, only: all, scale: { orchestrator: 2, 'tool-executor': 3 } });
    expect(plan.filter((r) => r.service === 'orchestrator').map((r) => r.port)).toEqual([18080, 18090]);
    expect(plan.filter((r) => r.service === 'tool-executor').map((r) => [r.index, r.port])).toEqual([[0, 18084], [1, 18094], [2, 18104]]);
    expect(new Set(plan.map((r) => r.port)).size).toBe(plan.length);
  });

  it('never gives two replicas the same port', () => {
    const scale = Object.fromEntries(all.map((s) => [s, 10]));
    const plan = planReplicas({ portBase: 8080, only: all, scale });
    expect(plan).toHaveLength(50);
    expect(new Set(plan.map((r) => r.port)).size).toBe(50);
  });

  it('runs only the chosen services', () => {
    expect(planReplicas({ portBase: 8080, only: ['router'], scale: { router: 2 } }).map((r) => r.label)).toEqual(['router.0', 'router.1']);
  });

  it('knows entry points and single ports', () => {
    expect(serviceEntry('tool-executor')).toBe('apps/tool-executor/dist/main.js');
    expect(replicaPort('guardrail', 1, 8080)).toBe(8093);
  });
});

describe('replica environment', () => {
  const replicas = planReplicas({ portBase: 8080, only: [...SERVICES], scale: { orchestrator: 3, router: 2 } });
  const of = (label: string) => replicas.find((r) => r.label === label)!;

  it('divides rate limits by the service\'s own replica count, and gives each replica its port and index', () => {
    expect(replicaEnv(of('orchestrator.2'), replicas, {})).toMatchObject({ PORT: '8100', KEEL_INSTANCE: '2', KEEL_RATE_REPLICAS: '3', KEEL_MIGRATE_ON_START: 'false' });
    expect(replicaEnv(of('router.1'), replicas, {}).KEEL_RATE_REPLICAS).toBe('2');
    expect(replicaEnv(of('guardrail.0'), replicas, {}).KEEL_RATE_REPLICAS).toBe('1');
  });

  it('keeps what the operator set', () => {
    expect(replicaEnv(of('orchestrator.0'), replicas, { KEEL_RATE_REPLICAS: '5', KEEL_MIGRATE_ON_START: 'true', X: 'y' })).toMatchObject({ KEEL_RATE_REPLICAS: '5', KEEL_MIGRATE_ON_START: 'true', X: 'y' });
  });
});
