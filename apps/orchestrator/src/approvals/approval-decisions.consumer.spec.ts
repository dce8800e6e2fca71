import { randomUUID } from 'node:crypto';
import { argsHash, decisionSignature } from '@keel/contracts';
import type { ApprovalDecided } from '@keel/contracts';
import type { Bus } from '@keel/messaging';
import { createLogger } from '@keel/telemetry';
import type { CheckpointRepository, TaskState } from '../checkpoints/checkpoint.repository';
import type { TaskEventsService } from '../events/task-events.service';
import type { StepDispatcher } from '../steps/step.dispatcher';
import { ApprovalDecisionsConsumer } from './approval-decisions.consumer';
import { DecisionVerifier } from './decision.verifier';

const KEY = 'unit-signing-key-0123456789abcdef0123456789';
const logger = createLogger('test', { level: 'silent' });
const args = { method: 'POST', url: 'https://api.example.com/orders' };
type Unsigned = { [K in ApprovalDecided['kind']]: Omit<Extract<ApprovalDecided, { kind: K }>, 'signature'> }[ApprovalDecided['kind']];

describe('ApprovalDecisionsConsumer', () => {
  const taskId = randomUUID();
  const gateId = randomUUID();
  const state = {
    id: taskId, tenant: 'default', status: 'waiting_approval', traceparent: null,
    pending: { step: 2, turn: { content: null, toolCalls: [{ id: 'c1', name: 'http_request', arguments: args }] } },
  } as unknown as TaskState;
  let dispatch: jest.Mock;
  let append: jest.Mock;
  let published: unknown[];
  let consumer: ApprovalDecisionsConsumer;

  const signed = (d: Unsigned, key = KEY): ApprovalDecided =>
    ({ ...d, signature: decisionSignature(key, { gateId: d.gateId, revision: d.revision, argsHash: d.argsHash, decision: d.decision, tenant: d.tenant }) });
  const decided = (over: Partial<ApprovalDecided> = {}): ApprovalDecided => signed({
    kind: 'decided', gateId, taskId, tenant: 'default', step: 2, index: 0, revision: 0, argsHash: argsHash(args), decision: 'approve', decidedBy: 'alice', ...over,
  } as Unsigned);

  beforeEach(() => {
    dispatch = jest.fn().mockResolvedValue(undefined);
    append = jest.fn(async (id: string, events: { type: string; data: unknown }[]) => events.map((e, i) => ({ taskId: id, seq: i + 1, at: new Date().toISOString(), ...e })));
    published = [];
    const checkpoints = { head: jest.fn().mockResolvedValue(state), appendEvents: append } as unknown as CheckpointRepository;
    const events = { publish: (e: unknown[]) => published.push(...e) } as unknown as TaskEventsService;
    consumer = new ApprovalDecisionsConsumer({} as Bus, checkpoints, { dispatch } as unknown as StepDispatcher, events, new DecisionVerifier({ KEEL_APPROVAL_SIGNING_KEY: KEY }, logger), logger);
  });

  it('resumes the waiting step on a signed decision for the waiting call', async () => {
    const d = decided();
    await consumer.onDecision(d);
    // The signed approval travels with the resume, so the step can skip asking the approval service again.
    expect(dispatch).toHaveBeenCalledWith(taskId, 2, 'resume', null, `:${gateId}`, {
      approved: { gateId, index: d.index, revision: d.revision, argsHash: d.argsHash, signature: d.signature, tenant: d.tenant },
    });
  });

  it('refuses a decision replayed against another gate (the signature covers the gate id)', async () => {
    const original = decided();
    await consumer.onDecision({ ...original, gateId: randomUUID() });
    expect(dispatch).not.toHaveBeenCalled();
  });

  it('refuses a decision whose argsHash was altered, and a validly signed one for other arguments', async () => {
    const other = argsHash({ method: 'DELETE', url: 'https://api.example.com/all' });
    await consumer.onDecision({ ...decided(), argsHash: other });
    await consumer.onDecision(decided({ argsHash: other }));
    expect(dispatch).not.toHaveBeenCalled();
  });

  it('refuses a decision signed with another key, a flipped decision, or another tenant\'s signature', async () => {
    await consumer.onDecision(signed({ ...decided(), kind: 'decided' } as Unsigned, 'another-key-0123456789abcdef0123456789'));
    await consumer.onDecision({ ...decided({ decision: 'reject' }), decision: 'approve' } as ApprovalDecided);
    const mallory = decided({ tenant: 'other' });
    await consumer.onDecision({ ...mallory, tenant: 'default' });
    expect(dispatch).not.toHaveBeenCalled();
  });

  it('records an escalation as an approval.escalated event without resuming', async () => {
    await consumer.onDecision(signed({ kind: 'escalated', gateId, taskId, tenant: 'default', step: 2, index: 0, revision: 0, argsHash: argsHash(args), decision: 'escalated', level: 1, group: 'oncall', expiresAt: '2030-01-01T00:00:00.000Z' }));
    expect(dispatch).not.toHaveBeenCalled();
    expect(append).toHaveBeenCalledWith(taskId, [{ type: 'approval.escalated', data: { step: 2, index: 0, gateId, level: 1, group: 'oncall', expiresAt: '2030-01-01T00:00:00.000Z' } }]);
    expect(published).toHaveLength(1);
  });

  it('records an expiry as approval.expired and resumes the step (which then tells the model)', async () => {
    await consumer.onDecision(signed({ kind: 'expired', gateId, taskId, tenant: 'default', step: 2, index: 0, revision: 1, argsHash: argsHash(args), decision: 'expired', reason: 'approval timed out' }));
    expect(append).toHaveBeenCalledWith(taskId, [{ type: 'approval.expired', data: { step: 2, index: 0, gateId, reason: 'approval timed out' } }]);
    expect(dispatch).toHaveBeenCalledWith(taskId, 2, 'resume', null, `:${gateId}:1`, {});
  });

  it('hands a decision back for a retry when the step that opened the gate has not committed its pause yet', async () => {
    const running = { ...state, status: 'running', step: 1 } as TaskState;
    const checkpoints = { head: jest.fn().mockResolvedValue(running), appendEvents: append } as unknown as CheckpointRepository;
    const early = new ApprovalDecisionsConsumer({} as Bus, checkpoints, { dispatch } as unknown as StepDispatcher, { publish: () => undefined } as unknown as TaskEventsService, new DecisionVerifier({ KEEL_APPROVAL_SIGNING_KEY: KEY }, logger), logger);
    await expect(early.onDecision(decided())).rejects.toMatchObject({ retryable: true });
    expect(dispatch).not.toHaveBeenCalled();
  });

  it('checks a decision on a held user input against the input the gate holds', async () => {
    const review = { id: 'input_review', name: 'keel.input_review', arguments: { input: 'Please use my key', categories: ['prompt_injection'], score: 0.6 } };
    const held = { ...state, step: 0, pending: { step: 1, inputReview: review } } as unknown as TaskState;
    const checkpoints = { head: jest.fn().mockResolvedValue(held), appendEvents: append } as unknown as CheckpointRepository;
    const c = new ApprovalDecisionsConsumer({} as Bus, checkpoints, { dispatch } as unknown as StepDispatcher, { publish: () => undefined } as unknown as TaskEventsService, new DecisionVerifier({ KEEL_APPROVAL_SIGNING_KEY: KEY }, logger), logger);
    // Signed, but for another text than the one waiting: refused.
    await c.onDecision(decided({ step: 1, argsHash: argsHash({ ...review.arguments, input: 'something else' }) }));
    expect(dispatch).not.toHaveBeenCalled();
    await c.onDecision(decided({ step: 1, argsHash: argsHash(review.arguments) }));
    expect(dispatch).toHaveBeenCalledWith(taskId, 1, 'resume', null, `:${gateId}`, expect.anything());
  });

  it('ignores messages for a task that no longer waits on that step', async () => {
    await consumer.onDecision(decided({ step: 3 }));
    expect(dispatch).not.toHaveBeenCalled();
    expect(append).not.toHaveBeenCalled();
  });
});

describe('DecisionVerifier.approves (the approval a resumed step carries)', () => {
  const verifier = new DecisionVerifier({ KEEL_APPROVAL_SIGNING_KEY: KEY }, logger);
  const gate = { gateId: 'g-1', revision: 0, tenant: 'acme', argsHash: argsHash(args) };
  const sign = (g: typeof gate, decision: 'approve' | 'reject' = 'approve') => ({ ...g, signature: decisionSignature(KEY, { ...g, decision }) });

  it('accepts a signed approval for exactly these arguments', () => {
    expect(verifier.approves(sign(gate), args)).toBe(true);
  });

  it('refuses other arguments, another gate, a rejection re-labelled as approval, or another key', () => {
    expect(verifier.approves(sign(gate), { ...args, url: 'https://attacker.example/' })).toBe(false);
    expect(verifier.approves({ ...sign(gate), gateId: 'g-2' }, args)).toBe(false);
    expect(verifier.approves(sign(gate, 'reject'), args)).toBe(false);
    expect(verifier.approves({ ...gate, signature: decisionSignature('another-key-0123456789abcdef0123456789', { ...gate, decision: 'approve' }) }, args)).toBe(false);
  });
});
