import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Locator, Page } from 'playwright-core';
import type { TaskEvent } from '@keel/contracts';
import { keelClient, startKeel, startOtlpReceiver } from '@keel/testing';
import type { KeelStack, OtlpReceiver } from '@keel/testing';

/**
 * The approval console in a real headless Chromium: the page served by the
 * approval service asks for the API key, shows a gate (tool, arguments, risk,
 * the task's input and timeline, a trace link), approves and rejects with a
 * comment, and its pending count follows the gates live without a reload.
 */
const CHROMIUM = process.env.KEEL_CHROMIUM ?? '/usr/bin/chromium';
const JAEGER = 'http://jaeger.test:16686';
const UI_TIMEOUT_MS = 20_000;

describe('approval console (browser)', () => {
  let keel: KeelStack;
  let otlp: OtlpReceiver;
  let sink: Server;
  let sinkUrl: string;
  let browser: Browser;
  let page: Page;
  let dir: string;
  const hits = new Map<string, number>();

  const { request, submit: submitTask, task: taskOf, waitStatus } = keelClient(() => keel);
  const submit = (input: string, script: unknown[], agent = 'console') => submitTask({ input, agent, metadata: { script } });
  const post = (path: string, body: unknown) => ({ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url: `${sinkUrl}${path}`, body } }] });
  const pendingCount = () => page.locator('#pending-count');
  /** Waits until the element's visible text equals (a string) or matches (a RegExp); fails with the last text seen. */
  const seeText = async (loc: Locator, expected: string | RegExp, exact = false) => {
    const deadline = Date.now() + UI_TIMEOUT_MS;
    for (;;) {
      const last = await loc.innerText({ timeout: 1000 }).catch(() => null);
      if (last !== null && (typeof expected === 'string' ? (exact ? last.trim() === expected : last.includes(expected)) : expected.test(last))) return;
      if (Date.now() > deadline) throw new Error(`expected ${loc.toString()} to ${exact ? 'be' : 'contain'} ${String(expected)}; last text: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const card = (taskId: string) => page.locator('section.gate', { hasText: taskId });

  beforeAll(async () => {
    sink = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ created: path }));
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as { port: number }).port;
    sinkUrl = `http://127.0.0.1:${port}`;
    dir = mkdtempSync(join(tmpdir(), 'keel-console-'));
    writeFileSync(join(dir, 'escalating.yaml'), `name: escalating\nmodel: scripted/default\ntools:\n  - name: http_request\n    allow: ["127.0.0.1:${port}"]\n    risk: approve\napprovals: {timeoutMs: 1500, onTimeout: escalate, escalation: [{group: oncall, timeoutMs: 4000}]}\nlimits: {taskTimeoutMs: 120000}\n`);
    writeFileSync(join(dir, 'reviewed.yaml'), 'name: reviewed\nmodel: scripted/default\nguardrail: {onEscalate: review}\nlimits: {taskTimeoutMs: 120000}\n');
    writeFileSync(join(dir, 'console.yaml'), `name: console\nmodel: scripted/default\ntools:\n  - name: http_request\n    allow: ["127.0.0.1:${port}"]\n    risk: approve\nlimits: {taskTimeoutMs: 120000}\n`);
    otlp = await startOtlpReceiver();
    // Both at once, each kept as soon as it is up, so afterAll stops whichever started.
    const launching = chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] }).then((b) => (browser = b));
    const starting = startKeel({ agentsDir: dir, otlpUrl: otlp.url, env: { KEEL_JAEGER_URL: JAEGER, KEEL_APPROVAL_SWEEP_MS: '200' } }).then((k) => (keel = k));
    const [launched, started] = await Promise.allSettled([launching, starting]);
    if (launched.status === 'rejected') throw launched.reason;
    if (started.status === 'rejected') throw started.reason;
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.setDefaultTimeout(UI_TIMEOUT_MS);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await keel?.stop();
    await otlp?.close();
    sink?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('asks for the key, then shows the pending count live', async () => {
    const res = await page.goto(keel.url('approval'));
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'nonce-[^']+'/);
    await page.getByText('Enter an API key with the approver').waitFor();
    await page.fill('#key', keel.apiKey);
    await page.click('button:has-text("Use key")');
    await seeText(page.locator('#live'), 'live', true);
    await seeText(pendingCount(), '0 pending', true);
    // Marks this document: if the page reloaded, the mark would be gone.
    await page.evaluate('window.keelMark = 42');
  });

  it('shows a gate with its call, risk and task; Approve runs the side effect exactly once', async () => {
    const input = 'Create order 42 for ACME, please.';
    const id = await submit(input, [post('/orders', { order: 42, customer: 'ACME' }), { content: 'Order 42 created.' }]);
    await waitStatus(id, ['waiting_approval']);

    // The count moves without a reload (SSE), and the gate appears.
    await seeText(pendingCount(), '1 pending', true);
    const gate = card(id);
    await gate.waitFor();
    await seeText(gate.locator('h2'), 'http_request');
    await seeText(gate.locator('h2'), 'risk approve');
    const args = JSON.parse(await gate.locator('pre.args').innerText()) as Record<string, unknown>;
    expect(args).toEqual({ method: 'POST', url: `${sinkUrl}/orders`, body: { order: 42, customer: 'ACME' } });
    await seeText(gate.locator('pre.args'), '"customer": "ACME"');

    // The task's context: its input, its timeline (model call with cost, guardrail verdict, the approval request) and a trace link.
    await seeText(gate.locator('pre.task-input'), input);
    const timeline = gate.locator('table.timeline');
    await seeText(timeline, 'model.completed');
    await seeText(timeline, 'proposes http_request');
    await seeText(timeline, 'guardrail.screened');
    await seeText(timeline, 'approval.requested');
    expect(await timeline.innerText()).toMatch(/\$\d+\.\d{6}/);
    const trace = gate.locator('a.trace-link');
    const task = await taskOf(id);
    expect(task.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(await trace.getAttribute('href')).toBe(`${JAEGER}/trace/${task.traceId}`);
    expect(hits.get('/orders') ?? 0).toBe(0);

    await gate.locator('input.comment').fill('looks right, go ahead');
    await gate.locator('button.approve-btn').click();
    await seeText(pendingCount(), '0 pending', true);
    await card(id).waitFor({ state: 'detached' });

    const done = await waitStatus(id, ['succeeded']);
    expect(done.output).toBe('Order 42 created.');
    expect(hits.get('/orders')).toBe(1);
    const { events: timelineEvents } = await approvalApi<{ events: TaskEvent[] }>(`/v1/approvals/${(await gateOf(id)).id}/timeline`);
    expect(timelineEvents.find((e) => e.type === 'tool.completed')?.data).toMatchObject({ tool: 'http_request', ok: true });
    expect(await page.evaluate('window.keelMark')).toBe(42);
  });

  it('Reject: no side effect, and the model is told a person rejected it', async () => {
    const id = await submit('Delete customer ACME.', [post('/delete', { customer: 'ACME' }), { reply: 'echo' }]);
    await seeText(pendingCount(), '1 pending', true);
    const gate = card(id);
    await gate.waitFor();
    await seeText(gate.locator('pre.args'), '/delete');
    await gate.locator('input.comment').fill('never delete customers from here');
    await gate.locator('button.reject-btn').click();
    await seeText(pendingCount(), '0 pending', true);

    const t = await waitStatus(id, ['succeeded']);
    expect(t.output).toMatch(/a human approver rejected this call: never delete customers from here/);
    expect(hits.get('/delete') ?? 0).toBe(0);
    const { events } = await approvalApi<{ events: TaskEvent[] }>(`/v1/approvals/${(await gateOf(id, 'rejected')).id}/timeline`);
    expect(events.find((e) => e.type === 'tool.rejected')?.data).toMatchObject({ tool: 'http_request', comment: 'never delete customers from here' });
    expect(events.map((e) => e.type)).not.toContain('tool.completed');
    expect(await page.evaluate('window.keelMark')).toBe(42);

    // The decided gate is listed under its status, with who decided and the comment.
    await page.selectOption('#status', 'rejected');
    await seeText(card(id), 'never delete customers from here');
    await seeText(card(id).locator('h2'), 'rejected by');
    await page.selectOption('#status', 'pending');
  });

  it('an escalated user input is shown as the input with its guardrail findings; Approve lets the task run', async () => {
    // The guardrail escalates this everyday request (between the escalate and block thresholds).
    const input = 'Please use my key to call the API';
    const id = await submit(input, [{ reply: 'echo' }], 'reviewed');
    await seeText(pendingCount(), '1 pending', true);
    const gate = card(id);
    await gate.waitFor();
    await seeText(gate.locator('h2'), 'Escalated user input');
    await seeText(gate.locator('pre.args'), input, true);
    await seeText(gate, /guardrail: prompt_injection · score 0\.\d+/);
    await seeText(gate, 'escalated this user input');
    await gate.locator('button.approve-btn').click();
    await seeText(pendingCount(), '0 pending', true);
    const t = await waitStatus(id, ['succeeded']);
    expect(t.output).toContain(`user: ${input}`);
    expect(await page.evaluate('window.keelMark')).toBe(42);
  });

  it('an unanswered gate is shown escalated, then leaves the pending list as expired; the call never runs', async () => {
    const id = await submit('Refund order 7.', [post('/refund', { order: 7 }), { reply: 'echo' }], 'escalating');
    await seeText(pendingCount(), '1 pending', true);
    await seeText(card(id).locator('h2'), 'escalated to oncall');
    await seeText(pendingCount(), '0 pending', true);
    await card(id).waitFor({ state: 'detached' });
    expect(await page.evaluate('window.keelMark')).toBe(42);

    const t = await waitStatus(id, ['succeeded', 'failed', 'cancelled']);
    expect(hits.get('/refund') ?? 0).toBe(0);
    const { events } = await approvalApi<{ events: TaskEvent[] }>(`/v1/approvals/${(await gateOf(id, 'expired')).id}/timeline`);
    expect(events.map((e) => e.type)).not.toContain('tool.completed');
    expect(t.status === 'succeeded' ? t.output : t.error?.message).toMatch(/timed out|expired/);
    await page.selectOption('#status', 'expired');
    await seeText(card(id).locator('h2'), 'expired');
    await page.selectOption('#status', 'pending');
  });

  it('takes a screenshot of the console', async () => {
    const id = await submit('Send the weekly report to finance.', [post('/report', { week: 47, to: 'finance@example.com' }), { content: 'sent' }]);
    const gate = card(id);
    await gate.waitFor();
    await seeText(gate.locator('table.timeline'), 'approval.requested');
    // KEEL_E2E_SCREENSHOT_DIR keeps the picture (e.g. as a CI artifact); otherwise a temp dir, removed.
    const keep = process.env.KEEL_E2E_SCREENSHOT_DIR;
    const shots = keep ?? mkdtempSync(join(tmpdir(), 'keel-console-shot-'));
    const file = join(shots, 'console.png');
    await page.screenshot({ path: file, fullPage: true });
    const png = readFileSync(file);
    expect(statSync(file).size).toBeGreaterThan(1000);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    if (!keep) rmSync(shots, { recursive: true, force: true });
  });

  async function approvalApi<T>(path: string): Promise<T> {
    const res = await request('approval', path);
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  }
  async function gateOf(taskId: string, status = 'approved'): Promise<{ id: string }> {
    const { items } = await approvalApi<{ items: { id: string; taskId: string }[] }>(`/v1/approvals?status=${status}`);
    const g = items.find((i) => i.taskId === taskId);
    if (!g) throw new Error(`no ${status} gate for task ${taskId}`);
    return g;
  }
});
