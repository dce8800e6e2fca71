import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { headers } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { Subjects, taskIdFor, TERMINAL_STATUSES } from '@keel/contracts';
import type { DeadLetter, TaskView } from '@keel/contracts';
import { keelClient, startKeel, startOtlpReceiver, waitFor, SERVICES } from '@keel/testing';
import type { KeelStack, OtlpReceiver } from '@keel/testing';

/**
 * The foundation end to end: five service processes on a private nats-server
 * and a fresh database, a local OTLP receiver, a local HTTP sink for
 * http_request. Proves the walking skeleton of the real loop.
 */
const run = promisify(execFile);
const ROOT = resolve(__dirname, '..');

describe('Keel end to end (five processes, real NATS JetStream and Postgres)', () => {
  let keel: KeelStack;
  let otlp: OtlpReceiver;
  let sink: Server;
  let sinkPort: number;
  const sinkKeys: string[] = [];
  const api = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const h = new Headers(init.headers);
    if (init.key !== null) h.set('Authorization', `Bearer ${init.key ?? keel.apiKey}`);
    if (init.body && !h.has('Content-Type')) h.set('Content-Type', 'application/json');
    return fetch(`${keel.url('orchestrator')}${path}`, { ...init, headers: h });
  };
  const { waitStatus } = keelClient(() => keel);
  const waitTerminal = (id: string) => waitStatus(id, TERMINAL_STATUSES);
  const countTasks = async () => {
    const c = new Client({ connectionString: keel.db.url });
    await c.connect();
    try {
      return Number((await c.query('SELECT count(*) FROM orchestrator.tasks')).rows[0].count);
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    sink = createServer((req, res) => {
      sinkKeys.push(String(req.headers['idempotency-key']));
      req.resume();
      req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end('{"created":true}'));
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    sinkPort = (sink.address() as { port: number }).port;
    const agentsDir = mkdtempSync(join(tmpdir(), 'keel-e2e-agents-'));
    writeFileSync(join(agentsDir, 'e2e.yaml'), `
name: e2e
model: scripted/default
systemPrompt: You are the end-to-end test agent.
tools:
  - calculator
  - name: http_request
    allow: ["127.0.0.1:${sinkPort}"]
    risk: review
limits: {maxSteps: 10, stepTimeoutMs: 20000}
`);
    otlp = await startOtlpReceiver();
    // Both OTLP encodings at once: one trace must assemble from JSON and protobuf exporters.
    const protobuf = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
    // Debug logs, so the check that no secret reaches the logs reads everything the services say.
    // The router captures prompt/answer content (redacted by the guardrail), so the secret test covers that path too.
    keel = await startKeel({ agentsDir, otlpUrl: otlp.url, env: { LOG_LEVEL: 'debug' }, serviceEnv: { approval: protobuf, guardrail: protobuf, 'tool-executor': protobuf, router: { KEEL_CAPTURE_CONTENT: 'true' } } });
  }, 120_000);

  afterAll(async () => {
    await keel?.stop();
    await otlp?.close();
    sink?.close();
  });

  const threeToolScript = () => [
    { toolCalls: [{ name: 'calculator', arguments: { expression: '6*7' } }], confidence: 0.97 },
    { toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `http://127.0.0.1:${sinkPort}/orders`, body: { item: 'book' } } }], confidence: 0.95 },
    { toolCalls: [{ name: 'calculator', arguments: { expression: '42+1' } }], confidence: 0.95 },
    { content: 'The order is placed; 6*7+1 = 43.' },
  ];

  async function expectOneTraceAcrossAllServices(task: TaskView) {
    expect(task.traceId).toMatch(/^[0-9a-f]{32}$/);
    const expectedNames = ['invoke_agent e2e', 'chat scripted/default', 'execute_tool calculator', 'execute_tool http_request', 'guardrail.screen'];
    // Spans arrive in batches from five exporters: wait until the whole picture is in, then assert on it.
    await otlp.waitFor((spans) => {
      const mine = spans.filter((x) => x.traceId === task.traceId);
      return SERVICES.every((s) => mine.some((x) => x.serviceName === s)) && expectedNames.every((n) => mine.some((x) => x.name === n));
    }, 15_000).catch(() => undefined);
    const services = otlp.servicesOfTrace(task.traceId!);
    expect([...services].sort()).toEqual([...SERVICES].sort());
    const names = otlp.spansOfTrace(task.traceId!).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(expectedNames));
  }

  it('runs a task with three tool calls submitted over REST, in one trace across all five services', async () => {
    const res = await api('/v1/tasks', { method: 'POST', body: JSON.stringify({ input: 'Order a book and do some sums', agent: 'e2e', metadata: { script: threeToolScript() } }) });
    expect(res.status).toBe(202);
    const { id, status } = (await res.json()) as { id: string; status: string };
    expect(status).toBe('queued');
    const task = await waitTerminal(id);
    expect(task).toMatchObject({ status: 'succeeded', output: 'The order is placed; 6*7+1 = 43.', steps: 4, error: null });
    expect(task.usage.inputTokens).toBeGreaterThan(0);
    expect(task.usage.outputTokens).toBeGreaterThan(0);
    expect(task.usage.costUsd).toBeGreaterThan(0);
    expect(sinkKeys).toContain(`${id}:2:0`);

    const events = await (await api(`/v1/tasks/${id}/events`)).text();
    const types = [...events.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(types[0]).toBe('task.submitted');
    expect(types.filter((t) => t === 'tool.completed')).toHaveLength(3);
    expect(types.at(-1)).toBe('task.succeeded');
    const ids = [...events.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual(ids.map((_, i) => i + 1)); // gap-free sequence
    await expectOneTraceAcrossAllServices(task);
  });

  it('runs a task submitted on keel.v1.tasks.submit, de-duplicated by Nats-Msg-Id', async () => {
    const nc = await connect({ servers: keel.nats.url });
    const js = jetstream(nc);
    const msgId = `nats-e2e-${Date.now()}`;
    const h = headers();
    h.set('Nats-Msg-Id', msgId);
    const body = JSON.stringify({ input: 'over NATS', agent: 'e2e', metadata: { script: threeToolScript() } });
    const first = await js.publish(Subjects.tasksSubmit, body, { headers: h, msgID: msgId });
    const again = await js.publish(Subjects.tasksSubmit, body, { msgID: msgId });
    expect(again.duplicate).toBe(true);
    expect(again.seq).toBe(first.seq);
    await nc.close();
    const id = taskIdFor('default', msgId);
    const task = await waitFor('nats task visible', async () => {
      const r = await api(`/v1/tasks/${id}`);
      return r.ok ? ((await r.json()) as TaskView) : undefined;
    }, 15_000).then(() => waitTerminal(id));
    expect(task).toMatchObject({ status: 'succeeded', steps: 4 });
    expect(sinkKeys.filter((k) => k === `${id}:2:0`)).toHaveLength(1);
    await expectOneTraceAcrossAllServices(task);
  });

  it('dead-letters a malformed message on every inbound subject, lists them with `keel dead-letters`, and keeps serving', async () => {
    const nc = await connect({ servers: keel.nats.url });
    const js = jetstream(nc);
    const garbage = new TextEncoder().encode('{"this is": "not a valid message"');
    const wrongShape = new TextEncoder().encode(JSON.stringify({ unexpected: true }));
    for (const subject of [Subjects.tasksSubmit, Subjects.stepsRun, Subjects.approvalsDecided]) {
      await js.publish(subject, wrongShape);
    }
    await js.publish(Subjects.tasksSubmit, garbage);
    const requestSubjects = [Subjects.guardrailScreen, Subjects.routerComplete, Subjects.toolsExecute, Subjects.toolsDescribe, Subjects.approvalsCheck, Subjects.authVerify];
    for (const subject of requestSubjects) {
      const reply = await nc.request(subject, wrongShape, { timeout: 5000 });
      expect(reply.json<{ ok: boolean; error: { code: string } }>()).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    }
    await nc.close();
    const inbound = [Subjects.tasksSubmit, Subjects.stepsRun, Subjects.approvalsDecided, ...requestSubjects];
    const letters = await waitFor('dead letters for every inbound subject', async () => {
      const { stdout } = await run(process.execPath, [join(ROOT, 'tools/cli/dist/main.js'), 'dead-letters', '--json', '--limit', '1000'], { env: { ...process.env, NATS_URL: keel.nats.url } });
      const list = JSON.parse(stdout) as DeadLetter[];
      return inbound.every((s) => list.some((l) => l.subject === s)) ? list : undefined;
    }, 15_000, 250);
    for (const s of inbound) {
      const l = letters.find((x) => x.subject === s)!;
      expect(l.reason).toBe('validation_error');
      expect(l.error.message.length).toBeGreaterThan(10);
    }
    expect(letters.find((l) => l.data.startsWith('{"this is"'))?.error.message).toMatch(/not valid JSON/);
    // Human-readable listing too.
    const { stdout: table } = await run(process.execPath, [join(ROOT, 'tools/cli/dist/main.js'), 'dead-letters'], { env: { ...process.env, NATS_URL: keel.nats.url } });
    expect(table).toContain('keel.v1.steps.run');
    expect(table).toContain('validation_error');
    // Still serving:
    const res = await api('/v1/tasks', { method: 'POST', body: JSON.stringify({ input: 'still there?', agent: 'e2e', metadata: { script: [{ content: 'yes' }] } }) });
    const { id } = (await res.json()) as { id: string };
    expect((await waitTerminal(id)).status).toBe('succeeded');
  });

  it('rejects bad submissions with a 4xx JSON error and a stable code, creating nothing', async () => {
    const before = await countTasks();
    const cases: [string, RequestInit & { key?: string | null }, number, string][] = [
      ['missing input', { method: 'POST', body: JSON.stringify({ agent: 'e2e' }) }, 400, 'invalid_request'],
      ['wrong types', { method: 'POST', body: JSON.stringify({ input: 42, metadata: 'x' }) }, 400, 'invalid_request'],
      ['unknown agent', { method: 'POST', body: JSON.stringify({ input: 'hi', agent: 'nope' }) }, 400, 'invalid_request'],
      ['not JSON', { method: 'POST', body: '{"input": ', headers: { 'Content-Type': 'application/json' } }, 400, 'invalid_request'],
      ['wrong content type', { method: 'POST', body: 'input=hi', headers: { 'Content-Type': 'text/plain' } }, 415, 'unsupported_media_type'],
      ['body over 1 MiB', { method: 'POST', body: JSON.stringify({ input: 'x'.repeat(1024 * 1024 + 10) }) }, 413, 'payload_too_large'],
      ['no API key', { method: 'POST', body: JSON.stringify({ input: 'hi' }), key: null }, 401, 'unauthorized'],
      ['wrong API key', { method: 'POST', body: JSON.stringify({ input: 'hi' }), key: 'keel_bad_key' }, 401, 'unauthorized'],
    ];
    for (const [name, init, status, code] of cases) {
      const res = await api('/v1/tasks', init);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect({ name, status: res.status, code: body.error?.code }).toEqual({ name, status, code });
      expect(body.error.message.length).toBeGreaterThan(5);
    }
    expect(await countTasks()).toBe(before);
    const missing = await api('/v1/tasks/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('creates one task for the same Idempotency-Key twice', async () => {
    const before = await countTasks();
    const init = { method: 'POST', body: JSON.stringify({ input: 'once', agent: 'e2e', metadata: { script: [{ content: 'once' }] } }), headers: { 'Idempotency-Key': `idem-${Date.now()}` } };
    const a = (await (await api('/v1/tasks', init)).json()) as { id: string };
    const b = (await (await api('/v1/tasks', init)).json()) as { id: string };
    expect(b.id).toBe(a.id);
    expect(await countTasks()).toBe(before + 1);
    expect((await waitTerminal(a.id)).status).toBe('succeeded');
  });

  it('serves health, readiness, metrics and the OpenAPI document on every service', async () => {
    for (const s of SERVICES) {
      expect((await fetch(`${keel.url(s)}/healthz`)).status).toBe(200);
      const ready = (await (await fetch(`${keel.url(s)}/readyz`)).json()) as { ready: boolean };
      expect(ready.ready).toBe(true);
      expect(await (await fetch(`${keel.url(s)}/metrics`)).text()).toContain('process_cpu_user_seconds_total');
    }
    const doc = (await (await fetch(`${keel.url('orchestrator')}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/tasks', '/v1/tasks/{id}', '/v1/tasks/{id}/events']));
    // User satisfaction: feedback on a finished task.
    const anyTask = await api('/v1/tasks', { method: 'POST', body: JSON.stringify({ input: 'rate me', agent: 'e2e', metadata: { script: [{ content: 'ok' }] } }) });
    const { id } = (await anyTask.json()) as { id: string };
    await waitTerminal(id);
    expect((await api(`/v1/tasks/${id}/feedback`, { method: 'POST', body: JSON.stringify({ score: 1, comment: 'good' }) })).status).toBe(204);
    const metrics = await (await fetch(`${keel.url('orchestrator')}/metrics`)).text();
    expect(metrics).toMatch(/keel_tasks_finished_total\{[^}]*status="succeeded"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/keel_task_steps_bucket\{/);
    expect(metrics).toMatch(/keel_task_duration_seconds_count\{[^}]*\} [1-9]/);
    expect(metrics).toMatch(/keel_feedback_total\{[^}]*score="positive"[^}]*\} 1/);
    expect(metrics).toMatch(/keel_queue_pending\{[^}]*consumer="orchestrator-steps"[^}]*\} \d/);
    expect(await (await fetch(`${keel.url('router')}/metrics`)).text()).toMatch(/# TYPE keel_cost_usd gauge/);
  });

  it('puts GenAI attributes on model and tool spans, and keeps a secret from the prompt out of spans, logs and the output', async () => {
    // Built at run time so no key-shaped literal sits in the source.
    const secret = ['sk', 'proj', 'Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz9Xc8Vb7Nm6'].join('-');
    const res = await api('/v1/tasks', { method: 'POST', body: JSON.stringify({
      input: `Here is my token ${secret}, please check the balance`, agent: 'e2e',
      metadata: { script: [{ toolCalls: [{ name: 'calculator', arguments: { expression: '1+2' } }] }, { reply: 'echo' }] },
    }) });
    const { id } = (await res.json()) as { id: string };
    const task = await waitTerminal(id);
    expect(task.status).toBe('succeeded');
    expect(task.output).not.toContain(secret);
    expect(task.output).toContain('[REDACTED');
    await otlp.waitFor((spans) => ['chat scripted/default', 'execute_tool calculator'].every((n) => spans.some((x) => x.traceId === task.traceId && x.name === n)), 15_000).catch(() => undefined);
    const spans = otlp.spansOfTrace(task.traceId!);
    const chat = spans.find((x) => x.name === 'chat scripted/default')!;
    expect(chat.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'scripted/default', 'gen_ai.response.model': 'scripted/default' });
    expect(chat.attributes['gen_ai.usage.input_tokens']).toEqual(expect.any(Number));
    expect(chat.attributes['gen_ai.usage.output_tokens']).toEqual(expect.any(Number));
    expect(chat.attributes['gen_ai.response.finish_reasons']).toEqual(expect.any(Array));
    // Content capture is on for this stack: the prompt is on the span, with the secret redacted.
    const captured = spans.filter((x) => x.name === 'chat scripted/default').map((x) => x.attributes['gen_ai.input.messages']).filter((c): c is string => typeof c === 'string');
    expect(captured.some((c) => c.includes('Here is my token') && c.includes('[REDACTED'))).toBe(true);
    const tool = spans.find((x) => x.name === 'execute_tool calculator')!;
    expect(tool.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'calculator' });
    expect(JSON.stringify(otlp.spans)).not.toContain(secret);
    for (const s of SERVICES) expect(keel.logs(s)).not.toContain(secret);
  });

  it('exports every metric the Kubernetes alerts and the Grafana dashboard use', async () => {
    const exported = new Set<string>();
    for (const svc of SERVICES) {
      const text = await (await fetch(`${keel.url(svc)}/metrics`)).text();
      for (const m of text.matchAll(/^# TYPE (\S+) /gm)) exported.add(m[1]);
    }
    const sources = ['deploy/k8s/base/monitoring.yaml', 'deploy/k8s/base/dashboards/keel.json'].map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
    const used = new Set([...sources.matchAll(/\b(keel_[a-z0-9_]+)/g)].map((m) => m[1].replace(/_(bucket|sum|count)$/, '')));
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((m) => !exported.has(m)).sort()).toEqual([]);
  });
});
