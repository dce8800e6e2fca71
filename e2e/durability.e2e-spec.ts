import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keelClient, startKeel, waitFor } from '@keel/testing';
import type { KeelStack } from '@keel/testing';

/**
 * Durable execution driven by `scripted` faults, on the five services as
 * processes: each timeout, the heartbeat watchdog, max steps, loop and
 * no-progress detection, cancellation, and every rung of the degradation
 * ladder. Timings are shortened through the agents' limits and the
 * watchdog's settings; the behaviour is the production one.
 */
describe('durable execution (five processes)', () => {
  let keel: KeelStack;
  let sink: Server;
  let sinkUrl: string;
  const hits = new Map<string, number>();
  let flaky = false;

  const { api, request, submit: submitTask, task, waitStatus, events } = keelClient(() => keel, { waitMs: 20_000 });
  const submit = (agent: string, script: unknown[], input = 'test') => submitTask({ input, agent, metadata: { script } });
  const http = (path: string, body: unknown = { n: 1 }) => ({ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sinkUrl}${path}`, body } }] });
  const calc = (expression: string) => ({ toolCalls: [{ name: 'calculator', arguments: { expression } }] });

  beforeAll(async () => {
    sink = createServer((req, res) => {
      const key = String(req.headers['idempotency-key']);
      hits.set(key, (hits.get(key) ?? 0) + 1);
      const url = new URL(req.url ?? '/', 'http://x');
      req.resume();
      if (url.pathname === '/hang' || (url.pathname === '/flaky' && flaky)) return; // never answers
      const delay = Number(url.searchParams.get('ms') ?? 0);
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: url.pathname, at: Date.now() })), delay);
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as { port: number }).port;
    sinkUrl = `http://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'keel-durable-'));
    const http = (extra = '') => `  - name: http_request\n    allow: ["127.0.0.1:${port}"]\n    risk: auto\n    timeoutMs: 700\n${extra}`;
    writeFileSync(join(dir, 'durable.yaml'), `name: durable\nmodel: scripted/default\ntools:\n  - calculator\n${http('    cacheTtlMs: 600000\n')}limits: {maxSteps: 6, stepTimeoutMs: 2500, taskTimeoutMs: 60000}\n`);
    writeFileSync(join(dir, 'slowtools.yaml'), `name: slowtools\nmodel: scripted/default\ntools:\n  - name: http_request\n    allow: ["127.0.0.1:${port}"]\n    risk: auto\n    timeoutMs: 10000\nlimits: {maxSteps: 6, stepTimeoutMs: 15000, taskTimeoutMs: 60000}\n`);
    writeFileSync(join(dir, 'alternate.yaml'), `name: alternate\nmodel: scripted/default\ntools:\n  - name: calculator\n    fallback: noop\n  - noop\n`);
    writeFileSync(join(dir, 'fragile.yaml'), `name: fragile\nmodel: scripted/default\ntools:\n  - name: http_request\n    allow: ["127.0.0.1:${port}"]\n    risk: auto\n    timeoutMs: 3000\n    idempotency: not_idempotent\nlimits: {stepTimeoutMs: 60000}\n`);
    writeFileSync(join(dir, 'gated.yaml'), `name: gated\nmodel: scripted/default\ntools:\n  - name: http_request\n    allow: ["127.0.0.1:${port}"]\n    risk: approve\nlimits: {taskTimeoutMs: 1500}\n`);
    keel = await startKeel({
      agentsDir: dir,
      env: {
        KEEL_STALL_AFTER_MS: '2500', KEEL_HEARTBEAT_MS: '400', KEEL_WATCHDOG_INTERVAL_MS: '300',
        // Recovery in these tests must come from the watchdog, not from JetStream's redelivery.
        KEEL_STEP_ACK_WAIT_MS: '60000', KEEL_ROUTER_BASE_DELAY_MS: '20', KEEL_ENABLE_BENCH_TOOLS: 'true',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await keel?.stop();
    sink?.close();
  });

  describe('timeouts', () => {
    it('tool timeout: a hanging tool call ends within its limit and the model is told', async () => {
      const id = await submit('durable', [http('/hang'), { content: 'I could not reach it.' }]);
      const t = await waitStatus(id, ['succeeded']);
      expect(t.output).toBe('I could not reach it.');
      const done = (await events(id)).find((e) => e.type === 'tool.completed')!;
      expect(done.data).toMatchObject({ ok: false, error: { code: 'timeout' } });
      expect(done.data.durationMs as number).toBeLessThan(2000);
    });

    it('step timeout: a model turn slower than the step limit fails the task with step_timeout', async () => {
      const id = await submit('durable', [{ content: 'too late', latencyMs: 10_000 }]);
      const t = await waitStatus(id, ['failed']);
      expect(t.error?.code).toBe('step_timeout');
    });

    it('task timeout: a task past its deadline (here waiting on a human) is timed out by the watchdog', async () => {
      const id = await submit('gated', [http('/ok'), { content: 'done' }]);
      await waitStatus(id, ['waiting_approval']);
      // The backlog is visible to operators while the gate waits.
      expect(await (await fetch(`${keel.url('approval')}/metrics`)).text()).toMatch(/keel_approvals_pending\{[^}]*kind="approve"[^}]*\} [1-9]/);
      const t = await waitStatus(id, ['timed_out'], 10_000);
      expect(t.error?.code).toBe('timeout');
      expect((await events(id)).map((e) => e.type)).toContain('task.timed_out');
    });

    it('model retries: 429 with Retry-After and a 503 are retried and visible as events', async () => {
      const id = await submit('durable', [{ fault: { status: 429, retryAfterMs: 30 } }, { fault: { status: 503 } }, { content: 'ok' }]);
      const t = await waitStatus(id, ['succeeded']);
      expect(t.output).toBe('ok');
      const retries = (await events(id)).filter((e) => e.type === 'model.retry');
      expect(retries.map((r) => (r.data.error as { status: number }).status)).toEqual([429, 503]);
      expect(retries[0].data.delayMs).toBe(30);
    });

    it('a non-retryable model error (400) fails the task at once with the attempt recorded', async () => {
      const id = await submit('durable', [{ fault: { status: 400 } }, { content: 'never' }]);
      const t = await waitStatus(id, ['failed']);
      expect(t.error?.code).toBe('provider_error');
    });
  });

  describe('heartbeats and the watchdog', () => {
    it('a long step keeps beating and is not taken for a stalled one', async () => {
      const id = await submit('slowtools', [http('/slow?ms=4000', { long: true }), { content: 'done' }]);
      await waitStatus(id, ['succeeded'], 20_000);
      expect((await events(id)).map((e) => e.type)).not.toContain('task.stalled');
    });

    it('an orchestrator killed mid-step: the watchdog marks the task stalled and re-dispatches it; the side effect happens once', async () => {
      const body = { stall: Date.now() };
      const id = await submit('slowtools', [http('/slow?ms=1500', body), { content: 'recovered' }]);
      await waitFor('tool call in flight', () => hits.get(`${id}:1:0`) === 1, 10_000, 20);
      await keel.kill('orchestrator');
      await keel.start('orchestrator');
      const t = await waitStatus(id, ['succeeded'], 30_000);
      expect(t.output).toBe('recovered');
      const types = (await events(id)).map((e) => e.type);
      expect(types).toContain('task.stalled');
      expect(types).toContain('model.recovered'); // the turn came from the checkpoint, the model was not asked again
      expect(hits.get(`${id}:1:0`)).toBe(1);
      expect(await (await fetch(`${keel.url('orchestrator')}/metrics`)).text()).toMatch(/keel_tasks_stalled_total\{[^}]*\} [1-9]/);
    }, 60_000);
  });

  describe('limits and loops', () => {
    it('max steps: a task that never answers fails with max_steps_exceeded', async () => {
      const id = await submit('durable', Array.from({ length: 10 }, (_, i) => calc(`${i}+1`)));
      const t = await waitStatus(id, ['failed']);
      expect(t.error?.code).toBe('max_steps_exceeded');
      expect(t.steps).toBe(7);
    });

    it('the third identical call gets a hint instead of running, and the model can recover', async () => {
      const id = await submit('durable', [calc('1+1'), calc('1+1'), calc('1+1'), { content: 'It is 2.' }]);
      const t = await waitStatus(id, ['succeeded']);
      expect(t.output).toBe('It is 2.');
      const ev = await events(id);
      expect(ev.filter((e) => e.type === 'tool.completed')).toHaveLength(2);
      expect(ev.find((e) => e.type === 'loop.hint')?.data).toMatchObject({ tool: 'calculator', repeats: 3 });
    });

    it('still repeating after the hint fails the task with loop_detected', async () => {
      const id = await submit('durable', [calc('1+1'), calc('1+1'), calc('1+1'), calc('1+1'), { content: 'never' }]);
      const t = await waitStatus(id, ['failed']);
      expect(t.error?.code).toBe('loop_detected');
    });

    it('a cycle with no progress (the same calls and results a third time) fails with no_progress', async () => {
      const id = await submit('durable', [calc('1+1'), calc('2+2'), calc('1+1'), calc('2+2'), calc('1+1'), { content: 'never' }]);
      const t = await waitStatus(id, ['failed']);
      expect(t.error?.code).toBe('no_progress');
    });
  });

  it('cancellation stops the task at its next safe point; the in-flight tool call finishes and is recorded', async () => {
    const id = await submit('slowtools', [http('/slow?ms=1200', { cancel: true }), calc('1+1'), { content: 'never' }]);
    await waitFor('tool call in flight', () => hits.get(`${id}:1:0`) === 1, 10_000, 20);
    const res = await api<{ status: string }>(`/v1/tasks/${id}/cancel`, { method: 'POST' });
    expect(res.status).toBe('cancelled');
    await waitFor('interruption recorded', async () => (await events(id)).some((e) => e.type === 'step.interrupted'), 10_000);
    const ev = await events(id);
    const types = ev.map((e) => e.type);
    expect(types.indexOf('task.cancelled')).toBeLessThan(types.indexOf('step.interrupted'));
    expect(ev.find((e) => e.type === 'tool.completed')?.data).toMatchObject({ ok: true, idempotencyKey: `${id}:1:0` });
    const t = await task(id);
    expect(t.status).toBe('cancelled');
    expect(t.steps).toBe(0);
    expect(hits.get(`${id}:1:0`)).toBe(1);
  });

  describe('degradation ladder', () => {
    it('rung 1: a failing call is answered by the agent\'s alternate tool with the same arguments', async () => {
      const id = await submit('alternate', [calc('1/0'), { reply: 'echo' }]);
      const t = await waitStatus(id, ['succeeded']);
      expect((await events(id)).find((e) => e.type === 'ladder.alternate_tool')?.data).toMatchObject({ tool: 'calculator', via: 'noop', cause: { code: 'tool_error' } });
      expect(t.output).toMatch(/\[answered by the alternate tool noop: the primary failed/);
    });

    it('rung 2: a failing call is answered by the cached result of the same call, labelled with its age', async () => {
      flaky = false;
      const body = { cache: Date.now() };
      const warm = await submit('durable', [http('/flaky', body), { content: 'warm' }]);
      await waitStatus(warm, ['succeeded']);
      flaky = true;
      try {
        const id = await submit('durable', [http('/flaky', body), { reply: 'echo' }]);
        const t = await waitStatus(id, ['succeeded']);
        expect((await events(id)).find((e) => e.type === 'ladder.cached_result')?.data).toMatchObject({ tool: 'http_request', cause: { code: 'timeout' } });
        expect(t.output).toMatch(/\[cached result from \d+ s ago: the live call failed/);
      } finally {
        flaky = false;
      }
    });

    it('rung 3: with no alternate and no cache, the model is told to answer from its own knowledge with a disclaimer', async () => {
      const id = await submit('durable', [http('/hang', { rung: 3 }), { reply: 'echo' }]);
      const t = await waitStatus(id, ['succeeded']);
      expect((await events(id)).map((e) => e.type)).toContain('ladder.model_knowledge');
      expect(t.output).toMatch(/\[tool unavailable\] http_request failed \(timeout/);
      expect(t.output).toMatch(/may be out of date/);
    });

    it('rung 4: asking again for the unavailable tool ends in a graceful refusal', async () => {
      const id = await submit('durable', [http('/hang', { rung: 4 }), http('/hang', { rung: 4, again: true }), { content: 'never' }]);
      const t = await waitStatus(id, ['failed']);
      expect(t.error?.code).toBe('tool_unavailable');
      expect(t.output).toMatch(/can't complete this request right now/);
      expect((await events(id)).map((e) => e.type)).toContain('ladder.refusal');
    });
  });

  describe('a side effect whose outcome is unknown', () => {
    const decide = async (taskId: string, decision: 'approve' | 'reject') => {
      const gate = await waitFor('gate', async () => {
        const { items } = (await (await request('approval', '/v1/approvals?status=pending')).json()) as { items: { taskId: string; id: string; reason: string }[] };
        return items.find((g) => g.taskId === taskId);
      }, 10_000);
      expect(gate.reason).toMatch(/outcome of an earlier run of http_request is unknown/);
      const res = await request('approval', `/v1/approvals/${gate.id}/decision`, { method: 'POST', body: JSON.stringify({ decision, comment: 'checked the remote side' }) });
      expect(res.status).toBe(200);
    };
    const crashMidCall = async (label: string) => {
      const id = await submit('fragile', [http('/slow?ms=2500', { fragile: label }), { reply: 'echo' }]);
      await waitFor('tool call in flight', () => hits.get(`${id}:1:0`) === 1, 10_000, 20);
      await keel.kill('tool-executor');
      await keel.start('tool-executor');
      await waitStatus(id, ['waiting_approval'], 30_000);
      expect((await events(id)).find((e) => e.type === 'tool.outcome_unknown')?.data).toMatchObject({ tool: 'http_request', idempotencyKey: `${id}:1:0` });
      return id;
    };

    it('pauses for a person instead of re-running a non-idempotent call; approval re-runs it', async () => {
      const id = await crashMidCall('approve');
      expect(hits.get(`${id}:1:0`)).toBe(1);
      await decide(id, 'approve');
      await waitStatus(id, ['succeeded'], 20_000);
      expect(hits.get(`${id}:1:0`)).toBe(2); // run again because a person said so
    }, 60_000);

    it('a rejection leaves it not run and tells the model', async () => {
      const id = await crashMidCall('reject');
      await decide(id, 'reject');
      const t = await waitStatus(id, ['succeeded'], 20_000);
      expect(hits.get(`${id}:1:0`)).toBe(1);
      expect(t.output).toMatch(/a person decided not to run it again: checked the remote side/);
    }, 60_000);
  });
});
