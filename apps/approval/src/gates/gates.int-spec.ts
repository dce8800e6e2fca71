import { randomUUID } from 'node:crypto';
import { AgentSchema, ApprovalCheckResponseSchema, ApprovalDecidedSchema, Subjects } from '@keel/contracts';
import type { Agent, ApprovalCheckRequest, ApprovalDecided, Principal, ToolCall } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import { DataSource, migrate, openDatabase } from '@keel/persistence';
import { createLogger } from '@keel/telemetry';
import { createTestDatabase, startNats, waitFor } from '@keel/testing';
import type { TestDatabase, TestNats } from '@keel/testing';
import { Gates1764000000001 } from '../migrations/1764000000001-gates';
import { ApprovalCheckResponder } from './approval-check.responder';
import { argsHash } from './args-hash';
import { DecisionPublisher } from './decision.publisher';
import { GatesRepository } from './gates.repository';
import { GatesService } from './gates.service';

const logger = createLogger('test', { level: 'silent' });
const alice: Principal = { keyId: 'k-alice', tenant: 'default', role: 'approver', name: 'alice' };
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
  let gates: GatesService;
  const events: ApprovalDecided[] = [];

  const agents = new Map<string, Agent>([
    ['ops', AgentSchema.parse({ name: 'ops', model: 'scripted/default', tools: ['calculator', 'run_code', { name: 'http_request', allow: ['api.example.com'], risk: 'approve' }] })],
  ]);

  const check = (taskId: string, calls: ToolCall[], extra: Partial<ApprovalCheckRequest> = {}) =>
    orchestrator.request(Subjects.approvalsCheck, { taskId, tenant: 'default', agent: 'ops', step: 1, calls, ...extra }, ApprovalCheckResponseSchema, { timeoutMs: 5000 });

  const gateRows = async (taskId: string): Promise<{ id: string; status: string; kind: string; revision: number }[]> =>
    db.query('SELECT id, status, kind, revision FROM approval.gates WHERE task_id = $1 ORDER BY call_index', [taskId]);
  const auditActions = async (gateId: string) => (await repo.auditTrail(gateId)).map((a) => a.action);
  const eventsFor = (gateId: string) => events.filter((e) => e.gateId === gateId);

  beforeAll(async () => {
    [nats, tdb] = await Promise.all([startNats(), createTestDatabase()]);
    db = await openDatabase({ url: tdb.url, schema: 'approval', migrations: [Gates1764000000001] });
    await migrate(db, 'approval');
    bus = await Bus.connect({ url: nats.url, service: 'approval', logger });
    orchestrator = await Bus.connect({ url: nats.url, service: 'orchestrator', logger });
    repo = new GatesRepository(db);
    publisher = new DecisionPublisher(bus, repo, logger);
    await publisher.onApplicationBootstrap();
    gates = new GatesService(repo, publisher, agents, { KEEL_APPROVAL_BASE_URL: 'https://approvals.example.com/' }, logger);
    new ApprovalCheckResponder(bus, gates).onApplicationBootstrap();
    // Consumed from the stream the way the orchestrator does.
    await orchestrator.consume({ stream: STREAMS.approvals, durable: 'test-decisions', schema: ApprovalDecidedSchema, handler: async (d) => { events.push(d); } });
  });

  afterAll(async () => {
    publisher.onModuleDestroy();
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
    expect(event).toEqual({ gateId, taskId, tenant: 'default', step: 1, decision: 'approve', decidedBy: 'alice', comment: 'looks fine' });

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
    await repo.decide(gate, { status: 'approved', decidedBy: 'alice', comment: null, audit: { tenant: 'default', actor: 'alice', action: 'gate.approved', gateId } });
    expect(await publisher.sweep(0)).toBeGreaterThanOrEqual(1);
    await waitFor('swept event', () => eventsFor(gateId).length === 1);
    expect(await publisher.sweep(0)).toBe(0);
  });

  it('keeps the audit log append-only', async () => {
    await expect(db.query('DELETE FROM approval.audit_log')).rejects.toThrow(/append-only/);
    await expect(db.query("UPDATE approval.audit_log SET actor = 'x'")).rejects.toThrow(/append-only/);
  });
});
