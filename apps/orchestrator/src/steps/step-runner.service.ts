import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { KeelError, ScriptSchema, StepWorkSchema } from '@keel/contracts';
import type {
  Agent, Attempt, ChatMessage, CompleteResponse, DeadLetter, ErrorBody, StepWork, TaskStatus,
} from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import type { DeliveryContext } from '@keel/messaging';
import { AGENTS, ENV, LOGGER } from '@keel/service-kit';
import { counter, histogram, SpanKind, withSpan } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { CheckpointRepository } from '../checkpoints/checkpoint.repository';
import type { NewEvent, StepCommit, TaskState } from '../checkpoints/checkpoint.repository';
import { TaskEventsService } from '../events/task-events.service';
import { PeersClient } from '../peers/peers.client';
import { StepDispatcher } from './step.dispatcher';

const stepsTotal = counter('keel_steps_total', 'Steps run, by agent and outcome', ['agent', 'outcome']);
const stepSeconds = histogram('keel_step_duration_seconds', 'Wall time of one step, by agent', ['agent']);
const tasksFinished = counter('keel_tasks_finished_total', 'Tasks that reached a terminal status', ['agent', 'status']);

/** Wraps untrusted tool output so the model can tell data from instructions (deepened by the guardrail issue). */
export const untrusted = (name: string, content: string): string =>
  `<tool_output name="${name}" trust="untrusted">\n${content}\n</tool_output>`;

type StepResult = Omit<StepCommit, 'taskId' | 'expectStep' | 'expectStatus'> & { next?: 'dispatch' };

/**
 * The step loop. Each step is one JetStream work item; this runner
 * rebuilds the task from its last checkpoint (one query), runs the step
 * (screen → model via router → approval policy → tools via tool-executor →
 * screen tool output), then commits the checkpoint in one statement fenced on
 * the step number and publishes the next step. Whatever replica gets the work
 * item after a crash does the same from the same checkpoint; the tool ledger
 * (keyed by task, step, call index) keeps side effects from running twice.
 */
@Injectable()
export class StepRunner implements OnApplicationBootstrap {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CheckpointRepository) private readonly checkpoints: CheckpointRepository,
    @Inject(PeersClient) private readonly peers: PeersClient,
    @Inject(StepDispatcher) private readonly dispatcher: StepDispatcher,
    @Inject(TaskEventsService) private readonly events: TaskEventsService,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ENV) private readonly env: { KEEL_STEP_CONCURRENCY: number; KEEL_STEP_ACK_WAIT_MS: number; KEEL_STEP_MAX_DELIVER: number },
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.ensureStream(STREAMS.approvals);
    await this.bus.consume({
      stream: STREAMS.steps,
      durable: 'orchestrator-steps',
      schema: StepWorkSchema,
      concurrency: this.env.KEEL_STEP_CONCURRENCY,
      ackWaitMs: this.env.KEEL_STEP_ACK_WAIT_MS,
      maxDeliver: this.env.KEEL_STEP_MAX_DELIVER,
      handler: (work, delivery) => this.run(work, delivery),
      onDeadLetter: (work, letter) => this.onStepDeadLettered(work, letter),
    });
  }

  async run(work: StepWork, delivery?: DeliveryContext): Promise<void> {
    const state = await this.checkpoints.load(work.taskId);
    if (!state) {
      this.logger.warn({ task_id: work.taskId }, 'step for an unknown task; dropping');
      return;
    }
    const log = this.logger.child({ task_id: state.id, tenant: state.tenant, step: work.step });
    if (['succeeded', 'failed', 'cancelled', 'timed_out'].includes(state.status)) return;
    if (state.step >= work.step) {
      // Already checkpointed (a redelivery after commit): make sure the next item exists, then done.
      if (state.status === 'running') await this.dispatcher.dispatch(state.id, state.step + 1, 'next', state.traceparent);
      return;
    }
    if (state.step !== work.step - 1) {
      log.warn({ checkpoint_step: state.step }, 'out-of-order step work item; dropping');
      return;
    }
    if (state.status === 'waiting_approval' && work.reason !== 'resume') return;

    const agent = this.agents.get(state.agent);
    const started = performance.now();
    await withSpan(`step ${work.step}`, {
      kind: SpanKind.INTERNAL,
      attributes: { 'keel.task.id': state.id, 'keel.tenant': state.tenant, 'keel.step': work.step, 'gen_ai.agent.name': state.agent, 'keel.delivery': delivery?.deliveryCount ?? 1 },
    }, async (span) => {
      let result: StepResult;
      try {
        result = await this.execute(state, work, agent);
      } catch (err) {
        const e = KeelError.wrap(err);
        if (e.retryable) throw e; // nak: the step is redelivered and re-run from the same checkpoint
        result = this.finish(work.step, 'failed', { error: e.toJSON() }, [{ type: 'step.failed', data: { step: work.step, error: e.toJSON() } }]);
      }
      span.setAttribute('keel.step.status', result.status);
      const expectStatus: TaskStatus[] = state.status === 'waiting_approval' ? ['running', 'waiting_approval'] : ['queued', 'running'];
      const { committed, events } = await this.checkpoints.commit({ ...result, taskId: state.id, expectStep: state.step, expectStatus });
      if (!committed) {
        log.info('step already committed by another runner, or the task was cancelled; discarding this result');
        stepsTotal.inc({ agent: state.agent, outcome: 'discarded' });
        return;
      }
      this.events.publish(events);
      stepsTotal.inc({ agent: state.agent, outcome: result.status });
      if (result.finished) tasksFinished.inc({ agent: state.agent, status: result.status });
      if (result.next === 'dispatch') await this.dispatcher.dispatch(state.id, work.step + 1, 'next', state.traceparent);
    });
    stepSeconds.observe({ agent: state.agent }, (performance.now() - started) / 1000);
  }

  private async execute(state: TaskState, work: StepWork, agent: Agent | undefined): Promise<StepResult> {
    const step = work.step;
    if (!agent) return this.finish(step, 'failed', { error: { code: 'invalid_request', message: `agent "${state.agent}" is not loaded on this orchestrator` } });
    if (Date.now() > state.deadlineAt.getTime()) {
      return this.finish(step, 'timed_out', { error: { code: 'timeout', message: `task exceeded its ${agent.limits.taskTimeoutMs} ms time limit` } });
    }
    if (step > agent.limits.maxSteps) {
      return this.finish(step, 'failed', { error: { code: 'max_steps_exceeded', message: `task used its ${agent.limits.maxSteps} steps without a final answer` } });
    }
    const events: NewEvent[] = [{ type: 'step.started', data: { step, reason: work.reason } }];
    const newMessages: ChatMessage[] = [];

    if (step === 1) {
      const verdict = await this.peers.screen({ text: state.input, channel: 'user', tenant: state.tenant, taskId: state.id });
      events.push({ type: 'guardrail.screened', data: { channel: 'user', verdict: verdict.verdict, categories: verdict.categories, score: verdict.score } });
      if (verdict.verdict === 'block' || verdict.verdict === 'escalate') {
        return this.finish(step, 'failed', { error: { code: 'input_blocked', message: `the input was blocked by the guardrail (${verdict.categories.join(', ') || 'policy'})` } }, events);
      }
      newMessages.push({ role: 'system', content: agent.systemPrompt }, { role: 'user', content: verdict.redacted ?? state.input });
    }

    const stepDeadline = Math.min(Date.now() + agent.limits.stepTimeoutMs, state.deadlineAt.getTime());
    let turn: CompleteResponse;
    let modelCalls = 0;
    let usage = { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    if (state.pending && state.pending.step === step) {
      turn = state.pending.turn; // resumed after an approval: the model already answered, its cost is booked
    } else {
      try {
        turn = await this.callModel(state, agent, step, [...state.transcript, ...newMessages], stepDeadline);
      } catch (err) {
        const e = KeelError.wrap(err);
        const details = e.details as { attempts?: Attempt[]; scriptTurnsConsumed?: number } | undefined;
        if (e.retryable) throw e;
        events.push(...attemptEvents(details?.attempts ?? []));
        return this.finish(step, 'failed', { error: e.toJSON(), modelCalls: details?.scriptTurnsConsumed ?? 0 }, events);
      }
      modelCalls = turn.scriptTurnsConsumed;
      usage = { ...turn.usage, costUsd: turn.costUsd };
      events.push(...attemptEvents(turn.attempts.filter((a) => a.error)));
      events.push({ type: 'model.completed', data: { model: turn.model, finishReason: turn.finishReason, usage: turn.usage, costUsd: turn.costUsd, attempts: turn.attempts.length, toolCalls: turn.toolCalls.map((c) => c.name), confidence: turn.confidence } });
    }

    if (turn.toolCalls.length === 0) {
      const verdict = await this.peers.screen({ text: turn.content ?? '', channel: 'output', tenant: state.tenant, taskId: state.id });
      events.push({ type: 'guardrail.screened', data: { channel: 'output', verdict: verdict.verdict, categories: verdict.categories, score: verdict.score } });
      if (verdict.verdict === 'block') {
        return this.finish(step, 'failed', { error: { code: 'output_blocked', message: 'the final answer was blocked by the guardrail' }, modelCalls, usage }, events);
      }
      const output = verdict.redacted ?? turn.content ?? '';
      newMessages.push({ role: 'assistant', content: output });
      return this.finish(step, 'succeeded', { output, modelCalls, usage, messages: newMessages }, events);
    }

    // Tool calls: policy first, then execution through the ledger, then screening of what came back.
    const calls = turn.toolCalls.map((c, i) => ({ ...c, id: c.id ?? `call_${step}_${i}` }));
    const check = await this.peers.checkApproval({ taskId: state.id, tenant: state.tenant, agent: agent.name, step, confidence: turn.confidence, calls });
    const waiting = check.decisions.filter((d) => d.action === 'wait');
    if (waiting.length > 0) {
      events.push(...waiting.map((d) => ({ type: 'approval.requested', data: { step, gateId: d.gateId, tool: calls[d.index].name, tier: d.tier, reason: d.reason } })));
      // The step count stays put: on resume the step runs again from here with the stored turn
      // (the input messages of step 1 are rebuilt then, so none are stored now).
      return { step: step - 1, status: 'waiting_approval', messages: [], events, modelCalls, usage, pending: { step, turn }, error: null };
    }
    newMessages.push({ role: 'assistant', content: turn.content, toolCalls: calls });
    const toolTimeout = (name: string) => agent.tools.find((t) => t.name === name)?.timeoutMs ?? agent.limits.toolTimeoutMs;
    for (const [i, call] of calls.entries()) {
      const decision = check.decisions.find((d) => d.index === i);
      if (decision?.action === 'rejected') {
        events.push({ type: 'tool.rejected', data: { step, index: i, tool: call.name, gateId: decision.gateId, comment: decision.comment } });
        newMessages.push({ role: 'tool', toolCallId: call.id, name: call.name, content: `error: a human approver rejected this call${decision.comment ? `: ${decision.comment}` : ''}` });
        continue;
      }
      const res = await this.peers.execute({
        idempotencyKey: `${state.id}:${step}:${i}`, taskId: state.id, tenant: state.tenant, agent: agent.name, step,
        name: call.name, arguments: call.arguments, timeoutMs: toolTimeout(call.name),
      });
      const raw = res.ok ? JSON.stringify(res.result) : `error (${res.error?.code}): ${res.error?.message}`;
      const screened = await this.peers.screen({ text: raw, channel: 'tool_output', tenant: state.tenant, taskId: state.id });
      const content = screened.verdict === 'allow' ? raw : (screened.redacted ?? '[tool output withheld by the guardrail]');
      events.push({ type: 'tool.completed', data: {
        step, index: i, tool: call.name, idempotencyKey: `${state.id}:${step}:${i}`, ok: res.ok, replayed: res.replayed, durationMs: res.durationMs,
        error: res.error, review: decision?.action === 'review', guardrail: { verdict: screened.verdict, categories: screened.categories },
      } });
      newMessages.push({ role: 'tool', toolCallId: call.id, name: call.name, content: untrusted(call.name, content) });
    }
    events.push({ type: 'step.completed', data: { step } });
    return { step, status: 'running', messages: newMessages, events, modelCalls, usage, pending: null, error: null, next: 'dispatch' };
  }

  private async callModel(state: TaskState, agent: Agent, step: number, messages: ChatMessage[], deadline: number): Promise<CompleteResponse> {
    const script = this.scriptFor(state, agent);
    const tools = agent.tools.length && !agent.model.startsWith('scripted/') ? await this.peers.describeTools(agent.name) : [];
    return this.peers.complete({
      taskId: state.id, tenant: state.tenant, agent: agent.name, step, model: agent.model, messages, tools,
      script, scriptCursor: state.modelCalls, deadline,
    });
  }

  /** `metadata.script` of the task wins over the agent's script (design.md: the scripted provider takes either). */
  private scriptFor(state: TaskState, agent: Agent) {
    const fromTask = state.metadata?.script;
    if (fromTask !== undefined) {
      const parsed = ScriptSchema.safeParse(fromTask);
      if (!parsed.success) throw new KeelError('invalid_request', `metadata.script is not a valid script: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return parsed.data;
    }
    return agent.script;
  }

  private finish(step: number, status: TaskStatus, extra: Partial<StepResult> & { error?: ErrorBody | null }, events: NewEvent[] = []): StepResult {
    const terminalEvent = status === 'succeeded' ? { type: 'task.succeeded', data: { step, output: extra.output } } : { type: `task.${status}`, data: { step, error: extra.error } };
    return { step, status, messages: [], pending: null, error: null, ...extra, events: [...events, terminalEvent], finished: true };
  }

  /** A step that could not be processed at all still ends its task: nothing is left running forever. */
  private async onStepDeadLettered(work: StepWork | undefined, letter: DeadLetter): Promise<void> {
    if (!work) return;
    const state = await this.checkpoints.load(work.taskId);
    if (!state || !['queued', 'running', 'waiting_approval'].includes(state.status)) return;
    const error = { code: 'step_failed' as const, message: `step ${work.step} could not be processed: ${letter.error.message}`, details: { deadLetterId: letter.id } };
    const { committed, events } = await this.checkpoints.commit({
      taskId: state.id, step: work.step, expectStep: state.step, expectStatus: ['queued', 'running', 'waiting_approval'],
      status: 'failed', messages: [], error, pending: null, finished: true,
      events: [{ type: 'task.failed', data: { step: work.step, error } }],
    });
    if (committed) {
      this.events.publish(events);
      tasksFinished.inc({ agent: state.agent, status: 'failed' });
    }
  }
}

function attemptEvents(attempts: Attempt[]): NewEvent[] {
  return attempts.filter((a) => a.error).map((a) => ({ type: 'model.retry', data: { attempt: a.attempt, error: a.error, delayMs: a.delayMs } }));
}
