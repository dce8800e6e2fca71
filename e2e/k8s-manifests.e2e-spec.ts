import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * deploy/k8s: builds every overlay with `kubectl kustomize` (no cluster),
 * validates every built-in object against the Kubernetes API schemas
 * (kubernetes-models), and checks them structurally: known built-in apiVersion/kind pairs with
 * their required fields and no misspelt container fields, the hardening every
 * pod must carry, one PDB / autoscaler / ServiceAccount / NetworkPolicy per
 * Deployment, and metric names in alerts and the dashboard that the code defines.
 */
const ROOT = join(__dirname, '..');
const OVERLAYS = ['dev', 'prod'];
const SERVICES = ['orchestrator', 'approval', 'router', 'guardrail', 'tool-executor'];

type Obj = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: unknown };
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const BUILT_IN: Record<string, string> = {
  Namespace: 'v1', ConfigMap: 'v1', Secret: 'v1', Service: 'v1', ServiceAccount: 'v1',
  Deployment: 'apps/v1', StatefulSet: 'apps/v1', Job: 'batch/v1',
  PodDisruptionBudget: 'policy/v1', HorizontalPodAutoscaler: 'autoscaling/v2', NetworkPolicy: 'networking.k8s.io/v1',
};
const CRDS: Record<string, string> = {
  ScaledObject: 'keda.sh/v1alpha1', ServiceMonitor: 'monitoring.coreos.com/v1', PrometheusRule: 'monitoring.coreos.com/v1', Cluster: 'postgresql.cnpg.io/v1',
};
// Fields of core/v1 Container (a typo such as `readinesProbe` is silently dropped by the API server).
const CONTAINER_FIELDS = new Set(['name', 'image', 'command', 'args', 'workingDir', 'ports', 'envFrom', 'env', 'resources', 'resizePolicy', 'restartPolicy', 'volumeMounts', 'volumeDevices', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'terminationMessagePath', 'terminationMessagePolicy', 'imagePullPolicy', 'securityContext', 'stdin', 'stdinOnce', 'tty']);
const POD_SPEC_FIELDS = new Set(['activeDeadlineSeconds', 'affinity', 'automountServiceAccountToken', 'containers', 'dnsConfig', 'dnsPolicy', 'enableServiceLinks', 'hostAliases', 'hostname', 'imagePullSecrets', 'initContainers', 'nodeName', 'nodeSelector', 'priorityClassName', 'readinessGates', 'restartPolicy', 'runtimeClassName', 'schedulerName', 'securityContext', 'serviceAccountName', 'subdomain', 'terminationGracePeriodSeconds', 'tolerations', 'topologySpreadConstraints', 'volumes']);
const REQUIRED_SPEC: Record<string, string[]> = {
  Deployment: ['selector', 'template'], StatefulSet: ['selector', 'template', 'serviceName'], Job: ['template'],
  Service: ['ports'], PodDisruptionBudget: ['selector'], HorizontalPodAutoscaler: ['scaleTargetRef', 'maxReplicas'], NetworkPolicy: ['podSelector'],
};

function kubectl(): string {
  for (const p of ['/usr/bin/kubectl', '/usr/local/bin/kubectl']) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('kubectl not found: these tests build deploy/k8s with `kubectl kustomize` (kustomize v5); install kubectl or put it on PATH');
  }
}

function build(overlay: string): Obj[] {
  const out = execFileSync(kubectl(), ['kustomize', join(ROOT, 'deploy/k8s/overlays', overlay)], { encoding: 'utf8', maxBuffer: 32 << 20 });
  return parseAllDocuments(out).map((d) => {
    if (d.errors.length) throw new Error(`${overlay}: invalid YAML: ${d.errors[0].message}`);
    return d.toJS() as Obj;
  }).filter(Boolean);
}

/** Metric names the services define (counter/gauge/histogram calls in apps/ and libs/), histogram series included. */
function definedMetrics(): Set<string> {
  const names = new Set<string>(['up']); // `up` is Prometheus's own per-target series.
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      if (entry === 'node_modules' || entry === 'dist') continue;
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !/\.(spec|int-spec)\.ts$/.test(path)) {
        for (const m of readFileSync(path, 'utf8').matchAll(/\b(counter|gauge|histogram)\(\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g)) {
          names.add(m[2]);
          if (m[1] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m[2] + s);
        }
        // prom-client classes used directly (e.g. a gauge whose value is read at scrape time).
        for (const m of readFileSync(path, 'utf8').matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g)) {
          names.add(m[2]);
          if (m[1] === 'Histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m[2] + s);
        }
      }
    }
  };
  walk(join(ROOT, 'apps'));
  walk(join(ROOT, 'libs'));
  return names;
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\{?\w+\}?/g, '');
  const names: string[] = [];
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(') || PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    if (/^\d/.test(stripped[m.index - 1] ?? '') || /[\d.]$/.test(stripped.slice(0, m.index))) continue; // 1e-9, 0.5
    names.push(m[0]);
  }
  return names;
}

function podSpec(o: Obj): Json {
  return (o.spec as Json).template.spec as Json;
}

function selects(selector: Json, labels: Record<string, string>): boolean {
  const ml = (selector.matchLabels ?? {}) as Record<string, string>;
  if (!Object.entries(ml).every(([k, v]) => labels[k] === v)) return false;
  return ((selector.matchExpressions ?? []) as Json[]).every((e) =>
    e.operator === 'In' ? (e.values as string[]).includes(labels[e.key as string]) : e.operator === 'Exists' ? e.key in labels : true);
}

describe('deploy/k8s manifests', () => {
  const metrics = definedMetrics();
  const built = new Map<string, Obj[]>();
  beforeAll(() => {
    for (const overlay of OVERLAYS) built.set(overlay, build(overlay));
  });

  it('finds the metric names in the source', () => {
    for (const m of ['keel_budget_alerts_total', 'keel_tasks_stalled_total', 'keel_tasks_finished_total', 'keel_dead_letters_total', 'keel_router_breaker_state', 'keel_approval_checks_total']) expect(metrics).toContain(m);
  });

  it('parses PromQL metric names', () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket{x="y"}[5m]))) / clamp_min(b_total, 1e-9) > 0.1 and c == 2 or vector(0)'))
      .toEqual(['a_seconds_bucket', 'b_total', 'c']);
  });

  describe.each(OVERLAYS)('overlay %s', (overlay) => {
    const objs = (): Obj[] => built.get(overlay)!;
    const of = (kind: string) => objs().filter((o) => o.kind === kind);
    const named = (kind: string, name: string) => of(kind).find((o) => o.metadata.name === name);

    it('validates every built-in object against the Kubernetes API schemas (kubernetes-models)', () => {
      const errors: string[] = [];
      for (const o of objs().filter((x) => BUILT_IN[x.kind])) {
        // kubernetes-models lays its classes out by group/version/kind (the core group has none), so the path is computed.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const model = require(`kubernetes-models/${o.apiVersion}/${o.kind}`) as Record<string, new (data: unknown) => { validate(): void }>;
        // kustomize folds long base64 Secret values over lines; the API server's decoder skips the newlines, the schema's regex does not.
        const data = o.kind === 'Secret' && o.data ? { ...o, data: Object.fromEntries(Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s+/g, '')])) } : o;
        try {
          new model[o.kind](data).validate();
        } catch (err) {
          errors.push(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
        }
      }
      expect(errors).toEqual([]);
    });

    it('builds only known kinds, each with apiVersion, kind, name and required spec fields', () => {
      expect(objs().length).toBeGreaterThan(30);
      for (const o of objs()) {
        const where = `${overlay} ${o.kind}/${o.metadata?.name}`;
        const expected = BUILT_IN[o.kind] ?? CRDS[o.kind];
        expect({ where, apiVersion: o.apiVersion }).toEqual({ where, apiVersion: expected });
        expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
        for (const field of REQUIRED_SPEC[o.kind] ?? []) expect({ where, field, present: (o.spec as Json)?.[field] !== undefined }).toEqual({ where, field, present: true });
      }
      for (const o of of('ConfigMap')) expect(Object.values((o.data ?? {}) as Record<string, unknown>).every((v) => typeof v === 'string')).toBe(true);
    });

    it('keeps every object in one namespace-scoped install (kustomize sets it)', () => {
      const ns = of('Namespace');
      expect(ns).toHaveLength(1);
      expect(ns[0].metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    });

    it('hardens every pod and container', () => {
      const workloads = [...of('Deployment'), ...of('StatefulSet'), ...of('Job')];
      for (const w of workloads) {
        const spec = podSpec(w);
        const where = `${overlay} ${w.kind}/${w.metadata.name}`;
        for (const key of Object.keys(spec)) expect({ where, key, known: POD_SPEC_FIELDS.has(key) }).toEqual({ where, key, known: true });
        expect({ where, automount: spec.automountServiceAccountToken }).toEqual({ where, automount: false });
        expect({ where, seccomp: spec.securityContext?.seccompProfile?.type, nonRoot: spec.securityContext?.runAsNonRoot }).toEqual({ where, seccomp: 'RuntimeDefault', nonRoot: true });
        const containers = [...(spec.containers as Json[]), ...((spec.initContainers ?? []) as Json[])];
        for (const c of containers) {
          const at = `${where} container ${c.name}`;
          for (const key of Object.keys(c)) expect({ at, key, known: CONTAINER_FIELDS.has(key) }).toEqual({ at, key, known: true });
          expect(c.image).toEqual(expect.stringMatching(/:[\w.-]+$/));
          expect({ at, requests: !!c.resources?.requests?.cpu && !!c.resources?.requests?.memory, limit: !!c.resources?.limits?.memory }).toEqual({ at, requests: true, limit: true });
          const sc = c.securityContext as Json;
          expect({ at, nonRoot: sc?.runAsNonRoot, ro: sc?.readOnlyRootFilesystem, esc: sc?.allowPrivilegeEscalation, drop: sc?.capabilities?.drop, seccomp: sc?.seccompProfile?.type })
            .toEqual({ at, nonRoot: true, ro: true, esc: false, drop: ['ALL'], seccomp: 'RuntimeDefault' });
          if (w.kind !== 'Job') expect({ at, probes: !!c.readinessProbe && !!c.livenessProbe }).toEqual({ at, probes: true });
        }
      }
    });

    it.each(SERVICES)('deploys %s as the image runs it', (name) => {
      const d = named('Deployment', name)!;
      expect(d).toBeDefined();
      const spec = podSpec(d);
      const c = (spec.containers as Json[])[0];
      expect(spec.securityContext.runAsUser).toBe(10001); // USER 10001:10001 in the Dockerfile
      expect(c.image).toMatch(new RegExp(`^keel/${name}:`));
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c.ports).toEqual([{ name: 'http', containerPort: expect.any(Number) }]);
      expect((c.volumeMounts as Json[]).map((v) => v.mountPath as string).sort()).toEqual(['/etc/keel/agents', '/tmp']);
      const agentsVol = (spec.volumes as Json[]).find((v) => v.name === 'agents')!;
      expect(named('ConfigMap', agentsVol.configMap.name as string)).toBeDefined();
      // env: keel-config for settings, keel-secrets for DATABASE_URL.
      const cm = named('ConfigMap', (c.envFrom as Json[])[0].configMapRef.name as string)!;
      expect(cm.metadata.name).toBe('keel-config');
      expect(cm.data).toMatchObject({ KEEL_AGENTS_DIR: '/etc/keel/agents', KEEL_MIGRATE_ON_START: 'false', NATS_URL: 'nats://nats:4222' });
      const db = (c.env as Json[]).find((e) => e.name === 'DATABASE_URL')!;
      expect(db.valueFrom.secretKeyRef.name).toMatch(/^keel-secrets/);
      const svc = named('Service', name)!;
      expect((svc.spec as Json).ports[0]).toMatchObject({ name: 'http', port: c.ports[0].containerPort });
      // Availability and scaling.
      expect(of('PodDisruptionBudget').some((p) => selects((p.spec as Json).selector as Json, d.spec ? podLabels(d) : {}))).toBe(true);
      const hpa = of('HorizontalPodAutoscaler').some((h) => (h.spec as Json).scaleTargetRef.name === name);
      const keda = of('ScaledObject').some((s) => (s.spec as Json).scaleTargetRef.name === name);
      expect({ name, autoscaled: hpa !== keda }).toEqual({ name, autoscaled: true }); // exactly one: KEDA owns its own HPA
      // Identity without API access.
      const sa = named('ServiceAccount', spec.serviceAccountName as string)!;
      expect(sa.automountServiceAccountToken).toBe(false);
      // Network: some policy other than default-deny selects the pod.
      expect(of('NetworkPolicy').some((p) => p.metadata.name !== 'default-deny-all' && selects((p.spec as Json).podSelector as Json, podLabels(d)))).toBe(true);
    });

    it('denies all traffic by default and allows the needed paths', () => {
      const deny = named('NetworkPolicy', 'default-deny-all')!;
      expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      const egress = (named('NetworkPolicy', 'keel-services-egress')!.spec as Json).egress as Json[];
      expect(egress.flatMap((r) => (r.ports as Json[]).map((p) => p.port as number)).sort()).toEqual([4222, 4318, 5432]);
      const pub = named('NetworkPolicy', 'keel-public-ingress')!.spec as Json;
      expect(pub.podSelector.matchExpressions[0].values).toEqual(['orchestrator', 'approval']);
      const internet = named('NetworkPolicy', 'keel-internet-egress')!.spec as Json;
      expect(internet.podSelector.matchExpressions[0].values).toContain('tool-executor');
    });

    it('migrates every service in a Job, not at start', () => {
      const job = named('Job', 'keel-migrate')!;
      const spec = podSpec(job);
      const steps = [...(spec.initContainers as Json[]), ...(spec.containers as Json[])];
      expect(steps.map((c) => c.name as string).sort()).toEqual([...SERVICES].sort());
      for (const c of steps) {
        expect(c.args).toEqual(['migrate']); // ENTRYPOINT runs node apps/$SERVICE/dist/main.js "$@"
        expect(c.image).toMatch(new RegExp(`^keel/${c.name}:`));
      }
    });

    it('references only Secrets and ConfigMaps the build defines, or documents keel-secrets', () => {
      const text = JSON.stringify(objs());
      const secrets = new Set(of('Secret').map((s) => s.metadata.name));
      for (const m of text.matchAll(/"secretKeyRef":\{[^}]*"name":"([^"]+)"/g)) {
        if (overlay === 'prod') expect(['keel-secrets', 'keel-nats-users']).toContain(m[1]); // created out of band (deploy/README.md)
        else expect(secrets).toContain(m[1]);
      }
    });

    it('scales the orchestrator on KEEL_STEPS / orchestrator-steps lag', () => {
      const so = named('ScaledObject', 'orchestrator')!.spec as Json;
      const t = (so.triggers as Json[]).find((x) => x.type === 'nats-jetstream')!;
      expect(t.metadata).toMatchObject({ stream: 'KEEL_STEPS', consumer: 'orchestrator-steps', account: '$G' });
      expect(t.metadata.natsServerMonitoringEndpoint).toBe(`nats.${of('Namespace')[0].metadata.name}.svc.cluster.local:8222`);
    });

    it('connects each service to NATS as its own user, whose password the NATS server reads from the same Secret', () => {
      const conf = named('ConfigMap', 'nats-config')!.data as Record<string, string>;
      expect(conf['nats.conf']).toContain('include auth.conf');
      for (const service of ['orchestrator', 'approval', 'router', 'guardrail', 'tool-executor']) {
        const container = ((named('Deployment', service)!.spec as Json).template.spec.containers as Json[])[0];
        const env = container.env as Json[];
        expect(env.find((e) => e.name === 'NATS_USER')?.value).toBe(service);
        const key = `KEEL_NATS_${service.toUpperCase().replace('-', '_')}_PASSWORD`;
        // The dev overlay's secretGenerator adds a content hash to the name.
        expect(env.find((e) => e.name === 'NATS_PASSWORD')?.valueFrom).toEqual({ secretKeyRef: { name: expect.stringMatching(/^keel-nats-users(-[a-z0-9]+)?$/), key } });
        expect(conf['auth.conf']).toContain(`user: "${service}"`);
        expect(conf['auth.conf']).toContain(`password: $${key}`);
      }
      const nats = ((named('StatefulSet', 'nats')!.spec as Json).template.spec.containers as Json[])[0];
      expect(nats.envFrom).toEqual(expect.arrayContaining([{ secretRef: { name: expect.stringMatching(/^keel-nats-users(-[a-z0-9]+)?$/) } }]));
    });

    it('runs NATS with JetStream (3-node cluster in prod)', () => {
      const sts = named('StatefulSet', 'nats')!;
      const conf = named('ConfigMap', 'nats-config')!.data as Record<string, string>;
      expect(conf['nats.conf']).toContain('jetstream');
      expect((sts.spec as Json).replicas).toBe(overlay === 'prod' ? 3 : 1);
      if (overlay === 'prod') expect(conf['nats.conf']).toMatch(/cluster \{[\s\S]*nats-2\.nats-headless:6222/);
      expect(overlay === 'prod' ? named('Cluster', 'keel-pg') : named('StatefulSet', 'postgres')).toBeDefined();
    });

    it('scrapes /metrics on port http and alerts on metrics the code defines', () => {
      const sm = of('ServiceMonitor')[0].spec as Json;
      expect(sm.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics' });
      const scraped = of('Service').filter((s) => selects(sm.selector as Json, s.metadata.labels ?? {})).map((s) => s.metadata.name).sort();
      expect(scraped).toEqual([...SERVICES].sort());
      const rules = ((named('PrometheusRule', 'keel-alerts')!.spec as Json).groups as Json[]).flatMap((g) => g.rules as Json[]);
      expect(rules.map((r) => r.alert as string)).toEqual(['KeelBudgetAt80Percent', 'KeelTasksStalled', 'KeelTaskErrorRate', 'KeelDeadLettersGrowing', 'KeelRouterBreakerOpen', 'KeelApprovalBacklog']);
      for (const r of rules) {
        const used = metricNames(r.expr as string);
        expect(used.length).toBeGreaterThan(0);
        for (const m of used) expect({ alert: r.alert, metric: m, defined: metrics.has(m) }).toEqual({ alert: r.alert, metric: m, defined: true });
      }
    });

    it('ships a Grafana dashboard whose panels use only defined metrics', () => {
      const cm = of('ConfigMap').find((c) => c.metadata.labels?.grafana_dashboard === '1')!;
      const dash = JSON.parse(Object.values(cm.data as Record<string, string>)[0]) as Json;
      const exprs = (dash.panels as Json[]).flatMap((p) => (p.targets as Json[]).map((t) => t.expr as string));
      expect(exprs.length).toBeGreaterThan(10);
      for (const e of exprs) {
        for (const m of metricNames(e)) {
          const ok = metrics.has(m) || /^(process|nodejs)_/.test(m); // prom-client default metrics
          expect({ expr: e, metric: m, ok }).toEqual({ expr: e, metric: m, ok: true });
        }
      }
    });
  });
});

function podLabels(o: Obj): Record<string, string> {
  return ((o.spec as Json).template.metadata.labels ?? {}) as Record<string, string>;
}
