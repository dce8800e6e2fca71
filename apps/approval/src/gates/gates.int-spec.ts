import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { AgentSchema, ApprovalCheckResponseSchema, ApprovalDecidedSchema, ApprovalWithdrawResponseSchema, decisionSignature, StepWorkSchema, Subjects, verifyDecisionSignature } from '@keel/contracts';
import type { Agent, ApprovalCheckRequest, ApprovalDecided, Principal, StepWork, ToolCall } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import { DataSource, migrate, openDatabase } from '@keel/persistence';
import { createLogger, registry } from '@keel/telemetry';
import { createTestDatabase, startNats, waitFor } from '@keel/testing';
import type { TestDatabase, TestNats } from '@keel/testing';
import { APPROVAL_MIGRATIONS } from '../migrations';
import { GatesResponder } from './gates.responder';
import { argsHash } from './args-hash';
import { DecisionPublisher } from './decision.publisher';
import { DecisionSigner } from './decision.signer';
import { GateSweeper } from './gate.sweeper';
import { Notifier } from './notifier';
import { GatesRepository } from './gates.repository';
import { GatesService } from './gates.service';

const logger = createLogger('test', { level: 'silent' });
const alice: Principal = { keyId: 'k-alice', tenant: 'default', role: 'approver', name: 'alice' };
const KEY = 'test-signing-key-0123456789abcdef0123456789';
const mallory: Principal = { keyId: 'k-mallory', tenant: 'other', role: 'approver', name: 'mallory' };

const post = (url: string, method = 'POST'): ToolCall => ({ name: 'http_request', arguments: { method, url } });

describe('approval gates on real Postgres and NATS', () => {
  let nats: TestNats;
  let tdb: TestDatabase;
  let db: DataSource;
  let bus: Bus;
  let orchestrator: Bus;
  let repo: GatesRepository;
  let publisher: DecisionPublisher;
  let signer: DecisionSigner;
  let notifier: Notifier;
  let sweeper: GateSweeper;
  let gates: GatesService;
  let hook: Server;
  const events: ApprovalDecided[] = [];
  const resumes: StepWork[] = [];
  /** Webhook posts received, by text; the first two posts of each message fail with 503. */
  const posts = new Map<string, { attempts: number; body: { text: string; blocks: unknown[] } }>();

  const agents = new Map<string, Agent>([
    ['ops', AgentSchema.parse({ name: 'ops', model: 'scripted/default', tools: ['calculator', 'run_code', { name: 'http_request', allow: ['api.example.com'], risk: 'approve' }] })],
    ['timed', AgentSchema.parse({ name: 'timed', model: 'scripted/default', tools: [{ name: 'send_email', risk: 'approve' }], approvals: { timeoutMs: 300, onTimeout: 'escalate', escalation: [{ group: 'oncall', timeoutMs: 300 }] } })],
    ['hasty', AgentSchema.parse({ name: 'hasty', model: 'scripted/default', tools: [{ name: 'send_email', risk: 'approve' }], approvals: { timeoutMs: 200 } })],
  ]);

  const check = (taskId: string, calls: ToolCall[], extra: Partial<ApprovalCheckRequest> = {}) =>
    orchestrator.request(Subjects.approvalsCheck, { taskId, tenant: 'default', agent: 'ops', step: 1, calls, ...extra }, ApprovalCheckResponseSchema, { timeoutMs: 5000 });

  const gateRows = async (taskId: string): Promise<{ id: string; status: string; kind: string; revision: number }[]> =>
    db.query('SELECT id, status, kind, revision FROM approval.gates WHERE task_id = $1 ORDER BY call_index', [taskId]);
  const auditActions = async (gateId: string) => (await repo.auditTrail(gateId)).map((a) => a.action);
  const eventsFor = (gateId: string) => events.filter((e) => e.gateId === gateId);

  beforeAll(async () => {
    [nats, tdb] = await Promise.all([startNats(), createTestDatabase()]);
    db = await openDatabase({ url: tdb.url, schema: 'approval', migrations: APPROVAL_MIGRATIONS });
    await migrate(db, 'approval');
    bus = await Bus.connect({ url: nats.url, service: 'approval', logger });
    orchestrator = await Bus.connect({ url: nats.url, service: 'orchestrator', logger });
    hook = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => { raw += c.toString(); });
      req.on('end', () => {
        const body = JSON.parse(raw) as { text: string; blocks: unknown[] };
        const seen = posts.get(body.text) ?? { attempts: 0, body };
        seen.attempts++;
        posts.set(body.text, seen);
        res.writeHead(seen.attempts <= 2 ? 503 : 200).end(seen.attempts <= 2 ? 'busy' : 'ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const env = {
      KEEL_APPROVAL_BASE_URL: 'https://approvals.example.com/',
      KEEL_APPROVAL_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`,
      KEEL_APPROVAL_SIGNING_KEY: KEY,
    };
    repo = new GatesRepository(db);
    signer = new DecisionSigner(env, logger);
    publisher = new DecisionPublisher(bus, repo, logger);
    await publisher.onApplicationBootstrap();
    notifier = new Notifier(bus, repo, logger);
    notifier.retry = { baseMs: 200, maxMs: 1_000, webhookAttempts: 6 };
    notifier.onApplicationBootstrap();
    gates = new GatesService(repo, publisher, signer, notifier, agents, env, logger);
    sweeper = new GateSweeper(repo, publisher, signer, notifier, agents, env, logger);
    new GatesResponder(bus, gates).onApplicationBootstrap();
    // Consumed from the stream the way the orchestrator does.
    await orchestrator.consume({ stream: STREAMS.approvals, durable: 'test-decisions', schema: ApprovalDecidedSchema, handler: async (d) => { events.push(d); } });
    await orchestrator.consume({ stream: STREAMS.steps, durable: 'test-steps', schema: StepWorkSchema, handler: async (w) => { resumes.push(w); } });
  });

  afterAll(async () => {
    publisher.onModuleDestroy();
    notifier.onModuleDestroy();
    hook.close();
    await orchestrator.close(1000);
    await bus.close(1000);
    await db.destroy();
    await Promise.all([nats.stop(), tdb.drop()]);
  });

  it('runs auto calls without a gate and records review calls once, however often the step asks', async () => {
    const taskId = randomUUID();
    const calls: ToolCall[] = [{ name: 'calculator', arguments: { expression: '2+2' } }, { name: 'run_code', arguments: { language: 'python', code: 'print(1)' } }];
    const first = await check(taskId, calls);
    const second = await check(taskId, calls);
    expect(first.decisions).toEqual([
      { index: 0, action: 'run', tier: 'auto', reason: 'calculator is read-only' },
      { index: 1, action: 'review', tier: 'review', reason: expect.stringMatching(/run_code/), gateId: expect.any(String) },
    ]);
    expect(second.decisions[1].gateId).toBe(first.decisions[1].gateId);
    const rows = await gateRows(taskId);
    expect(rows).toEqual([{ id: first.decisions[1].gateId, status: 'pending', kind: 'review', revision: 0 }]);
    expect(await auditActions(rows[0].id)).toEqual(['review.opened']);

    // A reviewer marks it reviewed; nothing is published (the call already ran, no task waits on it).
    const view = await gates.decide(alice, rows[0].id, { decision: 'approve' });
    expect(view).toMatchObject({ status: 'reviewed', decidedBy: 'alice', kind: 'review' });
    expect((await check(taskId, calls)).decisions[1].action).toBe('review');
    expect(await auditActions(rows[0].id)).toEqual(['review.opened', 'review.reviewed']);
    expect(eventsFor(rows[0].id)).toEqual([]);
  });

  it('opens one gate for an approve call, waits while pending, and runs once approved, publishing the decision', async () => {
    const taskId = randomUUID();
    const call = post('https://api.example.com/orders');
    const [a, b] = [await check(taskId, [call]), await check(taskId, [call])];
    expect(a.decisions[0]).toMatchObject({ index: 0, action: 'wait', tier: 'approve', reason: expect.stringMatching(/agent sets http_request to risk approve; waiting for a person .* at https:\/\/approvals\.example\.com\/#/) });
    expect(b.decisions[0].gateId).toBe(a.decisions[0].gateId);
    const gateId = a.decisions[0].gateId!;
    expect(await gateRows(taskId)).toHaveLength(1);

    const pending = await gates.list('default', 'pending');
    expect(pending.find((g) => g.id === gateId)).toMatchObject({ taskId, step: 1, index: 0, tool: 'http_request', arguments: call.arguments, argsHash: argsHash(call.arguments), kind: 'approve', status: 'pending' });
    expect(await gates.list('other', 'pending')).toEqual([]);

    const view = await gates.decide(alice, gateId, { decision: 'approve', comment: 'looks fine' }, argsHash(call.arguments));
    expect(view).toMatchObject({ status: 'approved', decidedBy: 'alice', comment: 'looks fine' });
    const [event] = await waitFor('decided event', () => (eventsFor(gateId).length === 1 ? eventsFor(gateId) : undefined));
    const hash = argsHash(call.arguments);
    expect(event).toEqual({
      kind: 'decided', gateId, taskId, tenant: 'default', step: 1, index: 0, revision: 0, argsHash: hash, decision: 'approve', decidedBy: 'alice', comment: 'looks fine',
      signature: decisionSignature(KEY, { gateId, revision: 0, argsHash: hash, decision: 'approve', tenant: 'default' }),
    });

    // The fast path: the resume work item, carrying the signed approval, goes straight to the step queue.
    const [resume] = await waitFor('resume work item', () => (resumes.some((w) => w.taskId === taskId) ? resumes.filter((w) => w.taskId === taskId) : undefined));
    expect(resume).toEqual({ taskId, step: 1, reason: 'resume', approved: { gateId, index: 0, revision: 0, argsHash: hash, signature: event.signature, tenant: 'default' } });

    // Key order does not matter: the hash is of canonical JSON.
    const reordered: ToolCall = { name: 'http_request', arguments: { url: call.arguments.url, method: 'POST' } };
    expect((await check(taskId, [reordered])).decisions[0]).toMatchObject({ action: 'run', gateId, reason: 'approved by alice' });
    expect(await auditActions(gateId)).toEqual(['gate.opened', 'gate.approved']);
    const [audit] = (await repo.auditTrail(gateId)).slice(1);
    expect(audit).toMatchObject({ tenant: 'default', actor: 'alice', details: { keyId: 'k-alice', decision: 'approve', comment: 'looks fine' } });
  });

  it('binds an approval to its arguments: other arguments wait on a re-opened gate that needs a new decision', async () => {
    const taskId = randomUUID();
    const gateId = (await check(taskId, [post('https://api.example.com/a')])).decisions[0].gateId!;
    await gates.decide(alice, gateId, { decision: 'approve' });
    await waitFor('first event', () => eventsFor(gateId).length === 1);

    const changed = post('https://api.example.com/b', 'DELETE');
    expect((await check(taskId, [changed])).decisions[0]).toMatchObject({ action: 'wait', gateId, reason: expect.stringMatching(/arguments differ/) });
    expect(await gateRows(taskId)).toEqual([{ id: gateId, status: 'pending', kind: 'approve', revision: 1 }]);
    expect(await gates.get('default', gateId)).toMatchObject({ arguments: changed.arguments, argsHash: argsHash(changed.arguments), decidedBy: null });
    // The old arguments are no longer approved either.
    expect((await check(taskId, [post('https://api.example.com/a')])).decisions[0].action).toBe('wait');

    // A decision made against the old arguments (stale console) is refused.
    await expect(gates.decide(alice, gateId, { decision: 'approve' }, argsHash({ method: 'POST', url: 'https://api.example.com/a' }))).rejects.toMatchObject({ code: 'conflict' });
    await gates.decide(alice, gateId, { decision: 'approve' }, argsHash(changed.arguments));
    // A fresh msg id per revision: the second decision is not de-duplicated away.
    await waitFor('second event', () => eventsFor(gateId).length === 2);
    expect((await check(taskId, [changed])).decisions[0].action).toBe('run');
    expect(await auditActions(gateId)).toEqual(['gate.opened', 'gate.approved', 'gate.reopened', 'gate.arguments_mismatch', 'gate.approved']);
  });

  it('audits changed arguments while pending, and the decision applies to the stored ones only', async () => {
    const taskId = randomUUID();
    const original = post('https://api.example.com/x');
    const gateId = (await check(taskId, [original])).decisions[0].gateId!;
    expect((await check(taskId, [post('https://api.example.com/y')])).decisions[0].action).toBe('wait');
    expect(await gates.get('default', gateId)).toMatchObject({ arguments: original.arguments });
    expect(await auditActions(gateId)).toEqual(['gate.opened', 'gate.arguments_mismatch']);
  });

  it('answers rejected with the comment, and publishes the rejection', async () => {
    const taskId = randomUUID();
    const call = post('https://api.example.com/delete-all', 'DELETE');
    const gateId = (await check(taskId, [call])).decisions[0].gateId!;
    await gates.decide(alice, gateId, { decision: 'reject', comment: 'never in production' });
    expect((await check(taskId, [call])).decisions[0]).toEqual({ index: 0, action: 'rejected', tier: 'approve', gateId, reason: 'rejected by alice', comment: 'never in production' });
    // Fail-safe: other arguments do not turn a rejection into a run.
    expect((await check(taskId, [post('https://api.example.com/other')])).decisions[0].action).toBe('rejected');
    await waitFor('reject event', () => eventsFor(gateId).length === 1);
    expect(eventsFor(gateId)[0]).toMatchObject({ decision: 'reject', comment: 'never in production', decidedBy: 'alice' });
    expect(await auditActions(gateId)).toEqual(['gate.opened', 'gate.rejected']);
  });

  it('refuses a second decision, another tenant\'s gate and a malformed id', async () => {
    const taskId = randomUUID();
    const gateId = (await check(taskId, [post('https://api.example.com/z')])).decisions[0].gateId!;
    await expect(gates.decide(mallory, gateId, { decision: 'approve' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(gates.get('other', gateId)).rejects.toMatchObject({ code: 'not_found' });
    await expect(gates.decide(alice, 'not-a-uuid', { decision: 'approve' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(gates.decide(alice, randomUUID(), { decision: 'approve' })).rejects.toMatchObject({ code: 'not_found' });
    // Two approvers at once: exactly one wins, the other gets a conflict.
    const results = await Promise.allSettled([gates.decide(alice, gateId, { decision: 'approve' }), gates.decide({ ...alice, name: 'bob', keyId: 'k-bob' }, gateId, { decision: 'reject' })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'conflict', message: expect.stringMatching(/already decided/) } });
    await expect(gates.decide(alice, gateId, { decision: 'reject' })).rejects.toMatchObject({ code: 'conflict' });
    await waitFor('one event', () => eventsFor(gateId).length === 1);
    expect((await auditActions(gateId)).filter((a) => a !== 'gate.opened')).toHaveLength(1);
  });

  it('withdraws the pending gates of a task that ended (over NATS): off the pending list, no decision, nothing published', async () => {
    const taskId = randomUUID();
    const calls: ToolCall[] = [post('https://api.example.com/w1'), { name: 'run_code', arguments: { language: 'python', code: 'print(2)' } }];
    const d = (await check(taskId, calls)).decisions;
    const [gateId, reviewId] = [d[0].gateId!, d[1].gateId!];
    const decidedGate = (await check(taskId, [post('https://api.example.com/w2')], { step: 2 })).decisions[0].gateId!;
    await gates.decide(alice, decidedGate, { decision: 'approve' });

    const withdraw = (tenant: string) => orchestrator.request(Subjects.approvalsWithdraw, { taskId, tenant, reason: 'cancelled' }, ApprovalWithdrawResponseSchema, { timeoutMs: 5000 });
    expect(await withdraw('other')).toEqual({ withdrawn: 0 }); // another tenant cannot touch them
    expect(await withdraw('default')).toEqual({ withdrawn: 1 });
    expect(await withdraw('default')).toEqual({ withdrawn: 0 }); // idempotent

    expect(await gateRows(taskId)).toEqual(expect.arrayContaining([
      { id: gateId, status: 'withdrawn', kind: 'approve', revision: 0 },
      { id: reviewId, status: 'pending', kind: 'review', revision: 0 }, // the call already ran: its review stays
      { id: decidedGate, status: 'approved', kind: 'approve', revision: 0 },
    ]));
    expect(await gates.get('default', gateId)).toMatchObject({ status: 'withdrawn', decidedBy: 'system', comment: 'the task was cancelled' });
    expect((await gates.list('default', 'pending')).map((g) => g.id)).not.toContain(gateId);
    expect(await auditActions(gateId)).toEqual(['gate.opened', 'gate.withdrawn']);
    await expect(gates.decide(alice, gateId, { decision: 'approve' })).rejects.toMatchObject({ code: 'conflict' });
    await new Promise((r) => setTimeout(r, 200));
    expect(eventsFor(gateId)).toEqual([]);
    await expect(orchestrator.request(Subjects.approvalsWithdraw, { taskId: 'x', tenant: 'default', reason: 'cancelled' }, ApprovalWithdrawResponseSchema, { timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('applies confidence thresholds and refuses unknown agents', async () => {
    const taskId = randomUUID();
    const calc: ToolCall = { name: 'calculator', arguments: { expression: '1+1' } };
    expect((await check(taskId, [calc], { confidence: 0.95 })).decisions[0].action).toBe('run');
    expect((await check(taskId, [calc], { step: 2, confidence: 0.7 })).decisions[0].action).toBe('review');
    expect((await check(taskId, [calc], { step: 3, confidence: 0.4 })).decisions[0]).toMatchObject({ action: 'wait', tier: 'approve', reason: expect.stringMatching(/confidence 0.4 is below 0.6/) });
    await expect(check(taskId, [calc], { agent: 'nobody' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/unknown agent "nobody"/) });
  });

  it('escalates a review record to an approval gate when the same call now needs approval', async () => {
    const taskId = randomUUID();
    const code: ToolCall = { name: 'run_code', arguments: { language: 'sh', code: 'ls' } };
    const gateId = (await check(taskId, [code], { confidence: 0.95 })).decisions[0].gateId!;
    expect((await check(taskId, [code], { confidence: 0.2 })).decisions[0]).toMatchObject({ action: 'wait', gateId, tier: 'approve' });
    expect(await gateRows(taskId)).toEqual([{ id: gateId, status: 'pending', kind: 'approve', revision: 0 }]);
    expect(await auditActions(gateId)).toEqual(['review.opened', 'gate.escalated']);
  });

  it('re-publishes a decision whose publish did not happen (outbox sweep)', async () => {
    const taskId = randomUUID();
    const gateId = (await check(taskId, [post('https://api.example.com/outbox')])).decisions[0].gateId!;
    const gate = (await repo.get('default', gateId))!;
    // The decision is committed but the process died before publishing.
    await repo.decide(gate, { status: 'approved', decidedBy: 'alice', comment: null, signature: signer.sign({ gateId, revision: 0, argsHash: gate.argsHash, decision: 'approve', tenant: 'default' }), audit: { tenant: 'default', actor: 'alice', action: 'gate.approved', gateId } });
    expect(await publisher.sweep(0)).toBeGreaterThanOrEqual(1);
    await waitFor('swept event', () => eventsFor(gateId).length === 1);
    expect(await publisher.sweep(0)).toBe(0);
  });

  it('keeps the audit log append-only', async () => {
    await expect(db.query('DELETE FROM approval.audit_log')).rejects.toThrow(/append-only/);
    await expect(db.query("UPDATE approval.audit_log SET actor = 'x'")).rejects.toThrow(/append-only/);
  });

  describe('decision signatures', () => {
    const approved = async (url: string) => {
      const taskId = randomUUID();
      const call = post(url);
      const gateId = (await check(taskId, [call])).decisions[0].gateId!;
      await gates.decide(alice, gateId, { decision: 'approve' }, argsHash(call.arguments));
      expect((await check(taskId, [call])).decisions[0].action).toBe('run');
      return { taskId, call, gateId };
    };

    it('refuses an approval whose row was altered to other arguments, with an audit entry', async () => {
      const { taskId, gateId } = await approved('https://api.example.com/pay?to=alice');
      const forged = post('https://api.example.com/pay?to=mallory');
      // Someone with database access points the approved row at other arguments.
      await db.query('UPDATE approval.gates SET arguments = $2::jsonb, args_hash = $3 WHERE id = $1', [gateId, JSON.stringify(forged.arguments), argsHash(forged.arguments)]);
      expect((await check(taskId, [forged])).decisions[0]).toMatchObject({ action: 'rejected', gateId, reason: expect.stringMatching(/signature is invalid/) });
      expect(await auditActions(gateId)).toContain('decision.signature_invalid');
    });

    it('refuses a forged approval (status set by hand) and a signature copied from another gate', async () => {
      const taskId = randomUUID();
      const call = post('https://api.example.com/forged');
      const gateId = (await check(taskId, [call])).decisions[0].gateId!;
      await db.query(`UPDATE approval.gates SET status = 'approved', decided_by = 'mallory', decided_at = now() WHERE id = $1`, [gateId]);
      expect((await check(taskId, [call])).decisions[0]).toMatchObject({ action: 'rejected' });

      const other = await approved('https://api.example.com/legit');
      const [{ signature }] = await db.query<{ signature: string }[]>('SELECT signature FROM approval.gates WHERE id = $1', [other.gateId]);
      await db.query('UPDATE approval.gates SET signature = $2 WHERE id = $1', [gateId, signature]);
      expect((await check(taskId, [call])).decisions[0]).toMatchObject({ action: 'rejected', reason: expect.stringMatching(/signature is invalid/) });
      expect((await auditActions(gateId)).filter((a) => a === 'decision.signature_invalid')).toHaveLength(2);
    });

    it('signs every published decision over gate, revision, arguments, decision and tenant', async () => {
      const { gateId, call } = await approved('https://api.example.com/signed');
      const [event] = await waitFor('event', () => (eventsFor(gateId).length ? eventsFor(gateId) : undefined));
      const fields = { gateId, revision: 0, argsHash: argsHash(call.arguments), decision: 'approve', tenant: 'default' };
      expect(verifyDecisionSignature(KEY, fields, event.signature)).toBe(true);
      expect(verifyDecisionSignature(KEY, { ...fields, gateId: randomUUID() }, event.signature)).toBe(false);
      expect(verifyDecisionSignature(KEY, { ...fields, argsHash: argsHash({ other: true }) }, event.signature)).toBe(false);
      expect(verifyDecisionSignature(KEY, { ...fields, decision: 'reject' }, event.signature)).toBe(false);
      expect(verifyDecisionSignature(KEY, { ...fields, tenant: 'other' }, event.signature)).toBe(false);
      expect(verifyDecisionSignature('another-key-0123456789abcdef0123456789', fields, event.signature)).toBe(false);
    });
  });

  describe('deadlines', () => {
    const mail: ToolCall = { name: 'send_email', arguments: { to: 'ceo@example.com', body: 'hi' } };
    const row = async (id: string) => (await db.query<{ status: string; escalation_level: number; assigned_group: string | null; expires_at: Date | null }[]>('SELECT status, escalation_level, assigned_group, expires_at FROM approval.gates WHERE id = $1', [id]))[0];
    const expire = (id: string) => db.query(`UPDATE approval.gates SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);

    it('escalates to the next group, then expires when the chain is exhausted; the call never runs', async () => {
      const taskId = randomUUID();
      const first = (await check(taskId, [mail], { agent: 'timed' })).decisions[0];
      expect(first.action).toBe('wait');
      const gateId = first.gateId!;
      const opened = await row(gateId);
      expect(opened).toMatchObject({ status: 'pending', escalation_level: 0, assigned_group: null });
      expect(opened.expires_at).toBeInstanceOf(Date);

      await waitFor('first deadline', async () => (await sweeper.sweep()).some((g) => g.id === gateId), 5_000, 50);
      expect(await row(gateId)).toMatchObject({ status: 'pending', escalation_level: 1, assigned_group: 'oncall' });
      const escalated = await waitFor('escalated message', () => eventsFor(gateId).find((e) => e.kind === 'escalated'), 5_000);
      expect(escalated).toMatchObject({ kind: 'escalated', level: 1, group: 'oncall', taskId, revision: 0, argsHash: argsHash(mail.arguments) });
      expect((await check(taskId, [mail], { agent: 'timed' })).decisions[0].action).toBe('wait');

      await waitFor('second deadline', async () => (await sweeper.sweep()).some((g) => g.id === gateId), 5_000, 50);
      expect((await row(gateId)).status).toBe('expired');
      const expired = await waitFor('expired message', () => eventsFor(gateId).find((e) => e.kind === 'expired'), 5_000);
      expect(expired).toMatchObject({ kind: 'expired', decision: 'expired', reason: expect.stringMatching(/approval timed out.*exhausted after oncall/) });
      expect(verifyDecisionSignature(KEY, { gateId, revision: 0, argsHash: argsHash(mail.arguments), decision: 'expired', tenant: 'default' }, expired.signature)).toBe(true);
      expect((await check(taskId, [mail], { agent: 'timed' })).decisions[0]).toMatchObject({ action: 'rejected', expired: true, gateId, comment: 'approval timed out' });
      await expect(gates.decide(alice, gateId, { decision: 'approve' })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/expired/) });
      expect(await auditActions(gateId)).toEqual(['gate.opened', 'gate.escalated_to', 'gate.expired']);
      // The expiry is marked published (the outbox sweep leaves it alone).
      expect((await db.query<{ published_at: Date | null }[]>('SELECT published_at FROM approval.gates WHERE id = $1', [gateId]))[0].published_at).toBeInstanceOf(Date);
    });

    it('two sweepers at once act on an expired gate exactly once (SKIP LOCKED)', async () => {
      const taskId = randomUUID();
      const gateId = (await check(taskId, [mail], { agent: 'hasty' })).decisions[0].gateId!;
      await expire(gateId);
      const other = new GateSweeper(repo, publisher, signer, notifier, agents, { KEEL_APPROVAL_WEBHOOK_URL: undefined }, logger);
      const [a, b] = await Promise.all([sweeper.sweep(), other.sweep()]);
      expect([...a, ...b].filter((g) => g.id === gateId)).toHaveLength(1);
      expect(await auditActions(gateId)).toEqual(['gate.opened', 'gate.expired']);
      await waitFor('one expired message', () => eventsFor(gateId).length === 1, 5_000);
    });

    it('a decision in time wins: a decided gate is never expired', async () => {
      const taskId = randomUUID();
      const gateId = (await check(taskId, [mail], { agent: 'hasty' })).decisions[0].gateId!;
      await gates.decide(alice, gateId, { decision: 'approve' });
      await expire(gateId);
      expect((await sweeper.sweep()).some((g) => g.id === gateId)).toBe(false);
      expect((await row(gateId)).status).toBe('approved');
    });
  });

  it('posts a Slack-compatible webhook when a gate opens, retrying with backoff until it succeeds', async () => {
    const taskId = randomUUID();
    const call = post('https://api.example.com/notify?x=1');
    const gateId = (await check(taskId, [call])).decisions[0].gateId!;
    const got = await waitFor('webhook delivered', () => [...posts.values()].find((p) => p.body.text.includes(gateId) && p.attempts === 3), 15_000, 50);
    expect(got.body.text).toMatch(/^Approval needed: http_request \(risk approve\)/);
    expect(got.body.text).toContain('https://api.example.com/notify?x=1');
    expect(got.body.text).toContain(`Open: https://approvals.example.com/#${gateId}`);
    expect(JSON.stringify(got.body.blocks)).toContain(`https://approvals.example.com/#${gateId}`);
    const rows = await waitFor('marked sent', async () => {
      const r = await repo.notifications(gateId);
      return r[0]?.sentAt ? r : undefined;
    }, 5_000);
    expect(rows).toEqual([expect.objectContaining({ event: 'gate.opened', channel: 'webhook', attempts: 3, lastError: null })]);
  });

  it('lists the review queue and counts reviews marked ok and wrong', async () => {
    const code = (n: number): ToolCall => ({ name: 'run_code', arguments: { language: 'sh', code: `echo ${n}` } });
    const [a, b] = [randomUUID(), randomUUID()];
    const ra = (await check(a, [code(1)])).decisions[0].gateId!;
    const rb = (await check(b, [code(2)])).decisions[0].gateId!;
    const queue = await gates.list('default', 'review_pending');
    expect(queue.map((g) => g.id)).toEqual(expect.arrayContaining([ra, rb]));
    expect(queue.every((g) => g.kind === 'review' && g.status === 'pending')).toBe(true);
    await gates.decide(alice, ra, { decision: 'approve' });
    await gates.decide(alice, rb, { decision: 'reject', comment: 'should not have run' });
    expect((await gates.list('default', 'review_pending')).map((g) => g.id)).not.toEqual(expect.arrayContaining([ra]));
    const metric = await registry.getSingleMetricAsString('keel_reviews_total');
    expect(metric).toMatch(/keel_reviews_total\{verdict="ok"\} [1-9]/);
    expect(metric).toMatch(/keel_reviews_total\{verdict="wrong"\} [1-9]/);
    expect(await auditActions(rb)).toEqual(['review.opened', 'review.rejected']);
  });
});
