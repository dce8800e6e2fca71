import { readFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { Subjects, taskIdFor, TERMINAL_STATUSES } from '@keel/contracts';
import type { TaskView } from '@keel/contracts';
import { KEEL_SERVICES, natsAuthorizationConfig } from '@keel/messaging';
import { keelClient, startKeel, startNats, waitFor } from '@keel/testing';
import type { KeelStack, TestNats } from '@keel/testing';

const password = (service: string) => `pw-${service}-${service.length * 7919}`;

/**
 * All five services on a NATS server whose authorization is generated from
 * libs/messaging/src/permissions.ts: each service connects as its own user
 * with only the subjects it needs. Work that crosses every hop (a tool call,
 * an approval gate and its resume, API keys verified over NATS) completes
 * with no permission violation in the server's log, and a service's user
 * cannot reach another service's subjects or replies.
 */
describe('NATS users per service (generated permissions)', () => {
  let nats: TestNats;
  let keel: KeelStack;
  const connections: NatsConnection[] = [];

  const asUser = async (user: string) => {
    const nc = await connect({ servers: nats.url, user, pass: password(user), ...(KEEL_SERVICES.includes(user as never) ? { inboxPrefix: `_INBOX_${user}` } : {}) });
    connections.push(nc);
    return nc;
  };
  const { request, waitStatus } = keelClient(() => keel);
  const api = async <T>(service: 'orchestrator' | 'approval', path: string, init?: RequestInit) => (await (await request(service, path, init)).json()) as T;
  const finished = (id: string) => waitStatus(id, TERMINAL_STATUSES);
  const violations = () => (readFileSync(nats.logFile!, 'utf8').match(/.*(?:Publish|Subscription) Violation.*/g) ?? []);

  beforeAll(async () => {
    nats = await startNats({ config: natsAuthorizationConfig(Object.fromEntries([...KEEL_SERVICES, 'operator', 'submitter'].map((s) => [s, password(s)]))) });
    const dir = mkdtempSync(join(tmpdir(), 'keel-nats-security-'));
    const agents = join(dir, 'agents');
    mkdirSync(agents);
    writeFileSync(join(agents, 'gated.yaml'), 'name: gated\nmodel: scripted/default\ntools:\n  - {name: calculator, risk: approve}\n');
    keel = await startKeel({
      agentsDir: agents,
      nats,
      serviceEnv: Object.fromEntries(KEEL_SERVICES.map((s) => [s, { NATS_USER: s, NATS_PASSWORD: password(s) }])),
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    await keel?.stop();
    await nats?.stop();
  });

  it('runs tasks across every hop (tools, an approval and its resume) with no permission violation', async () => {
    const calc = await api<{ id: string }>('orchestrator', '/v1/tasks', { method: 'POST', body: JSON.stringify({ input: 'add', agent: 'demo', metadata: { script: [{ toolCalls: [{ name: 'calculator', arguments: { expression: '2+2' } }] }, { content: '4' }] } }) });
    expect(await finished(calc.id)).toMatchObject({ status: 'succeeded', output: '4' });

    const gated = await api<{ id: string }>('orchestrator', '/v1/tasks', { method: 'POST', body: JSON.stringify({ input: 'What is 3 plus 3?', agent: 'gated', metadata: { script: [{ toolCalls: [{ name: 'calculator', arguments: { expression: '3+3' } }] }, { content: '6' }] } }) });
    // The approval service verifies the key over NATS (auth.verify), then lists and decides the gate.
    const gate = await waitFor('gate', async () => {
      const { items } = await api<{ items: { id: string; taskId: string; argsHash: string }[] }>('approval', '/v1/approvals?status=pending');
      return items.find((g) => g.taskId === gated.id);
    }, 15_000).catch(async (err: Error) => {
      const task = await api<TaskView>('orchestrator', `/v1/tasks/${gated.id}`);
      const list = await request('approval', '/v1/approvals?status=pending');
      throw new Error(`${err.message}; task ${task.status} ${JSON.stringify(task.error)}; approvals ${list.status} ${await list.text()}; permission violations: ${violations().join('\n')}`);
    });
    await api('approval', `/v1/approvals/${gate.id}/decision`, { method: 'POST', headers: { 'If-Match': `"${gate.argsHash}"` }, body: JSON.stringify({ decision: 'approve' }) });
    expect(await finished(gated.id)).toMatchObject({ status: 'succeeded', output: '6' });

    // A client submits over the JetStream intake with the submitter user.
    const client = await asUser('submitter');
    await jetstream(client).publish(Subjects.tasksSubmit, JSON.stringify({ input: 'What is 4 plus 4?', agent: 'demo', metadata: { script: [{ content: '8' }] } }), { msgID: 'nats-security-1' });
    await waitStatus(taskIdFor('default', 'nats-security-1'), ['succeeded'], 15_000);
    expect(violations()).toEqual([]);
  }, 60_000);

  it('a service user cannot call another service\'s subjects, publish work items, or read other replies', async () => {
    const guardrail = await asUser('guardrail');
    // The guardrail has no business calling tools or submitting work.
    await expect(guardrail.request(Subjects.toolsExecute, '{}', { timeout: 1_000 })).rejects.toThrow(/Permissions Violation for Publish/);
    await expect(jetstream(guardrail).publish(Subjects.stepsRun, '{}', { timeout: 1_000 })).rejects.toThrow(/permission|timeout|no responders/i);
    // Replies to the orchestrator are the orchestrator's alone.
    const statuses: string[] = [];
    void (async () => {
      for await (const s of guardrail.status()) if (s.type === 'error') statuses.push(String((s as { error?: Error }).error?.message));
    })();
    guardrail.subscribe('_INBOX_orchestrator.>');
    await waitFor('subscription refused', async () => (statuses.some((m) => /Violation for Subscription to "_INBOX_orchestrator/.test(m)) ? true : undefined), 5_000);

    await waitFor('violations logged', async () => (violations().length >= 3 ? true : undefined), 5_000);
    const log = violations().join('\n');
    expect(log).toMatch(/Publish Violation - User "guardrail", Subject "keel\.v1\.tools\.execute"/);
    expect(log).toMatch(/Subscription Violation - User "guardrail", Subject "_INBOX_orchestrator/);
    // A wrong password is refused outright.
    await expect(connect({ servers: nats.url, user: 'router', pass: 'wrong', reconnect: false })).rejects.toThrow(/authorization/i);
  }, 30_000);
});
