import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keelClient, startKeel, waitFor } from '@keel/testing';
import type { KeelStack } from '@keel/testing';

/**
 * Approval gates across crashes and deadlines, on the five services as
 * processes: a gate survives SIGKILL of both the orchestrator and the
 * approval service, and an unanswered gate is escalated, then expired, with
 * every transition in the task's event log and the call never run.
 */
describe('approval gates (five processes)', () => {
  let keel: KeelStack;
  let sink: Server;
  let sinkUrl: string;
  const hits = new Map<string, number>();

  const { request, submit: submitTask, waitStatus, events } = keelClient(() => keel, { waitMs: 20_000 });
  const submit = (agent: string, script: unknown[]) => submitTask({ input: 'please send it', agent, metadata: { script } });
  const post = (path: string, body: unknown) => ({ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sinkUrl}${path}`, body } }] });
  const approvals = (path: string, init?: RequestInit) => request('approval', path, init);
  const gateOf = (taskId: string) => waitFor('gate', async () => {
    const { items } = (await (await approvals('/v1/approvals?status=pending')).json()) as { items: { taskId: string; id: string; argsHash: string }[] };
    return items.find((g) => g.taskId === taskId);
  }, 10_000);

  beforeAll(async () => {
    sink = createServer((req, res) => {
      const key = String(req.headers['idempotency-key']);
      hits.set(key, (hits.get(key) ?? 0) + 1);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"sent":true}');
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as { port: number }).port;
    sinkUrl = `http://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'keel-approvals-'));
    const tool = `tools:\n  - name: http_request\n    allow: ["127.0.0.1:${port}"]\n    risk: approve\n`;
    writeFileSync(join(dir, 'gated.yaml'), `name: gated\nmodel: scripted/default\n${tool}limits: {taskTimeoutMs: 120000}\n`);
    writeFileSync(join(dir, 'reviewed.yaml'), 'name: reviewed\nmodel: scripted/default\nguardrail: {onEscalate: review}\nlimits: {taskTimeoutMs: 120000}\n');
    writeFileSync(join(dir, 'timed.yaml'), `name: timed\nmodel: scripted/default\n${tool}approvals:\n  timeoutMs: 1500\n  onTimeout: escalate\n  escalation:\n    - {group: oncall, timeoutMs: 1500}\nlimits: {taskTimeoutMs: 60000}\n`);
    keel = await startKeel({ agentsDir: dir, env: { KEEL_APPROVAL_SWEEP_MS: '300' } });
  }, 120_000);

  afterAll(async () => {
    await keel?.stop();
    sink?.close();
  });

  it('a gate survives SIGKILL of the orchestrator and the approval service; the decision resumes the task and the call runs once', async () => {
    const id = await submit('gated', [post('/orders', { order: 'crash-test' }), { reply: 'echo' }]);
    await waitStatus(id, ['waiting_approval']);
    const gate = await gateOf(id);

    await Promise.all([keel.kill('orchestrator'), keel.kill('approval')]);
    await keel.start('orchestrator');
    await keel.start('approval');

    // A stale console (other arguments) is refused; the gate stays pending.
    const stale = await approvals(`/v1/approvals/${gate.id}/decision`, { method: 'POST', headers: { 'If-Match': `"${'0'.repeat(64)}"` }, body: JSON.stringify({ decision: 'approve' }) });
    expect(stale.status).toBe(409);
    const ok = await approvals(`/v1/approvals/${gate.id}/decision`, { method: 'POST', headers: { 'If-Match': `"${gate.argsHash}"` }, body: JSON.stringify({ decision: 'approve', comment: 'after the crash' }) });
    expect(ok.status).toBe(200);

    const t = await waitStatus(id, ['succeeded'], 30_000);
    expect(t.output).toMatch(/sent/);
    expect(hits.get(`${id}:1:0`)).toBe(1);
    const types = (await events(id)).map((e) => e.type);
    expect(types.filter((e) => e === 'approval.requested')).toHaveLength(1);
    expect(types.filter((e) => e === 'tool.completed')).toHaveLength(1);
  }, 90_000);

  it('an unanswered gate is escalated to the next group, then expires: the call never runs and the model is told', async () => {
    const id = await submit('timed', [post('/orders', { order: 'nobody-answers' }), { reply: 'echo' }]);
    await waitStatus(id, ['waiting_approval']);
    const t = await waitStatus(id, ['succeeded', 'failed'], 20_000);
    const ev = await events(id);
    const types = ev.map((e) => e.type);
    expect(types.indexOf('approval.requested')).toBeGreaterThanOrEqual(0);
    expect(types.indexOf('approval.escalated')).toBeGreaterThan(types.indexOf('approval.requested'));
    expect(types.indexOf('approval.expired')).toBeGreaterThan(types.indexOf('approval.escalated'));
    expect(ev.find((e) => e.type === 'approval.escalated')?.data).toMatchObject({ group: 'oncall', level: 1 });
    expect(ev.find((e) => e.type === 'tool.rejected')?.data).toMatchObject({ tool: 'http_request', expired: true });
    expect(types).not.toContain('tool.completed');
    expect(hits.get(`${id}:1:0`)).toBeUndefined();
    expect(t.status).toBe('succeeded');
    expect(t.output).toMatch(/approval timed out/);

    const gate = (await (await approvals('/v1/approvals?status=expired')).json()) as { items: { taskId: string; escalationLevel: number; assignedGroup: string }[] };
    expect(gate.items.find((g) => g.taskId === id)).toMatchObject({ escalationLevel: 1, assignedGroup: 'oncall' });
  }, 60_000);

  it('a task cancelled while it waits withdraws its gate: off the pending list, audited, and no decision can run the call', async () => {
    const id = await submit('gated', [post('/orders', { order: 'cancel-me' }), { reply: 'echo' }]);
    await waitStatus(id, ['waiting_approval']);
    const gate = await gateOf(id);
    expect((await request('orchestrator', `/v1/tasks/${id}/cancel`, { method: 'POST' })).status).toBe(202);
    await waitStatus(id, ['cancelled']);
    const withdrawn = await waitFor('withdrawn gate', async () => {
      const g = (await (await approvals(`/v1/approvals/${gate.id}`)).json()) as { status: string; comment: string; decidedBy: string };
      return g.status === 'withdrawn' ? g : undefined;
    }, 10_000);
    expect(withdrawn).toMatchObject({ decidedBy: 'system', comment: 'the task was cancelled' });
    const { items } = (await (await approvals('/v1/approvals?status=pending')).json()) as { items: { id: string }[] };
    expect(items.map((g) => g.id)).not.toContain(gate.id);
    const late = await approvals(`/v1/approvals/${gate.id}/decision`, { method: 'POST', body: JSON.stringify({ decision: 'approve' }) });
    expect(late.status).toBe(409);
    expect(hits.get(`${id}:1:0`)).toBeUndefined();
  }, 60_000);

  describe('an escalated user input held for a person (guardrail.onEscalate: review)', () => {
    // The guardrail escalates this everyday request (classifier p ≈ 0.46: between escalate and block):
    // the false positive a person should be able to wave through. Each test checks the verdict first.
    const ESCALATED = 'Please use my key to call the API';
    const submitInput = (agent: string, input: string) => submitTask({ input, agent, metadata: { script: [{ reply: 'echo' }] } });
    const decide = (gate: { id: string; argsHash: string }, decision: 'approve' | 'reject', comment: string) =>
      approvals(`/v1/approvals/${gate.id}/decision`, { method: 'POST', headers: { 'If-Match': `"${gate.argsHash}"` }, body: JSON.stringify({ decision, comment }) });
    const screenedVerdict = async (id: string) => (await events(id)).find((e) => e.type === 'guardrail.screened')?.data.verdict;

    it('approved: the task waits without calling the model (across a SIGKILL of both services), then runs with the input', async () => {
      const id = await submitInput('reviewed', ESCALATED);
      await waitStatus(id, ['waiting_approval']);
      expect(await screenedVerdict(id)).toBe('escalate');
      const before = (await events(id)).map((e) => e.type);
      expect(before).toContain('approval.requested');
      expect(before).not.toContain('model.completed');

      await Promise.all([keel.kill('orchestrator'), keel.kill('approval')]);
      await keel.start('orchestrator');
      await keel.start('approval');

      const gate = await gateOf(id);
      const listed = (await (await approvals('/v1/approvals?status=pending')).json()) as { items: { id: string; tool: string; arguments: { input: string; categories: string[] }; reason: string }[] };
      const shown = listed.items.find((g) => g.id === gate.id)!;
      expect(shown.tool).toBe('keel.input_review');
      expect(shown.arguments.input).toBe(ESCALATED);
      expect(shown.arguments.categories).toContain('prompt_injection');
      expect(shown.reason).toMatch(/escalated this user input/);

      expect((await decide(gate, 'approve', 'a normal request')).status).toBe(200);
      const t = await waitStatus(id, ['succeeded', 'failed'], 30_000);
      expect(t.status).toBe('succeeded');
      // The scripted echo returns the prompt it received: the approved input reached the model.
      expect(t.output).toContain(`user: ${ESCALATED}`);
      const after = await events(id);
      const types = after.map((e) => e.type);
      expect(types.indexOf('guardrail.input_approved')).toBeGreaterThan(types.indexOf('approval.requested'));
      expect(types.indexOf('model.completed')).toBeGreaterThan(types.indexOf('guardrail.input_approved'));
      // The review took step 1; the model's first turn was step 2.
      expect(after.find((e) => e.type === 'step.completed')?.data).toMatchObject({ step: 1, messageCount: 2, modelCalls: 0 });
    }, 60_000);

    it('rejected: the task fails with input_blocked and the reviewer\'s comment; the model is never called', async () => {
      const id = await submitInput('reviewed', ESCALATED);
      await waitStatus(id, ['waiting_approval']);
      expect(await screenedVerdict(id)).toBe('escalate');
      expect((await decide(await gateOf(id), 'reject', 'not from this user')).status).toBe(200);
      const t = await waitStatus(id, ['succeeded', 'failed'], 30_000);
      expect(t.status).toBe('failed');
      expect(t.error).toMatchObject({ code: 'input_blocked' });
      expect(t.error?.message).toMatch(/a person rejected it: not from this user/);
      const types = (await events(id)).map((e) => e.type);
      expect(types).toContain('guardrail.input_rejected');
      expect(types).not.toContain('model.completed');
    }, 60_000);

    it('without onEscalate: review the same input fails at once (the default), and no gate is opened', async () => {
      const id = await submitInput('gated', ESCALATED);
      const t = await waitStatus(id, ['succeeded', 'failed']);
      expect(await screenedVerdict(id)).toBe('escalate');
      expect(t.status).toBe('failed');
      expect(t.error).toMatchObject({ code: 'input_blocked' });
      const { items } = (await (await approvals('/v1/approvals')).json()) as { items: { taskId: string }[] };
      expect(items.filter((g) => g.taskId === id)).toHaveLength(0);
    }, 30_000);
  });
});
