import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { ACTIVE_STATUSES, INPUT_REVIEW_TOOL, KeelError, ScriptSchema, StepWorkSchema } from '@keel/contracts';
import type {
  Agent, Attempt, CallDecision, ChatMessage, CompleteRequest, CompleteResponse, DeadLetter, ErrorBody, ExecuteToolResponse, StepWork, TaskStatus, ToolCall, ToolSpec,
} from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import type { DeliveryContext } from '@keel/messaging';
import { classifyIntent, decide } from '@keel/policy';
import { AGENTS, ENV, LOGGER } from '@keel/service-kit';
import { counter, histogram, SpanKind, withSpan } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { DecisionVerifier } from '../approvals/decision.verifier';
import { CheckpointRepository } from '../checkpoints/checkpoint.repository';
import type { NewEvent, StepCommit, TaskState } from '../checkpoints/checkpoint.repository';
import { TaskStateCache } from '../checkpoints/task-state.cache';
import { TaskEventsService } from '../events/task-events.service';
import { MEMORY_RULE } from '../memory/context-assembler';
import { MemoryService } from '../memory/memory.service';
import { PeersClient } from '../peers/peers.client';
import { CancellationRegistry, TaskCancelled } from './cancellation.registry';
import { checkRepetition, earlierOccurrences, loopHint, NO_PROGRESS_OCCURRENCES } from './loop-detector';
import { cachedContent, degradedContent, isLadderFailure, LADDER_MARKER, modelKnowledgeContent, refusalOutput } from './degradation-ladder';
import { StepDispatcher } from './step.dispatcher';
import { isReplay, recordedKey, withReplayOverrides } from '../replay/replay-plan';
import { isInert } from './inert-output';
import { datamark, spotlight, SPOTLIGHT_RULE } from './spotlight';
import { effectiveAgent } from '../experiments/variants';
import { countExperimentOutcome } from '../experiments/experiment-metrics';

const stepsTotal = counter('keel_steps_total', 'Steps run, by agent and outcome', ['agent', 'outcome']);
const stepSeconds = histogram('keel_step_duration_seconds', 'Wall time of one step, by agent', ['agent']);
const tasksFinished = counter('keel_tasks_finished_total', 'Tasks that reached a terminal status', ['agent', 'status']);
const taskSteps = histogram('keel_task_steps', 'Steps a task took to finish', ['agent', 'status'], [1, 2, 3, 5, 8, 13, 20, 50, 100]);
const taskDuration = histogram('keel_task_duration_seconds', 'End-to-end task latency, submission to terminal status', ['agent', 'status'], [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900]);


type StepResult = Omit<StepCommit, 'taskId' | 'expectStep' | 'expectStatus'> & { next?: 'dispatch' };

export interface StepRunnerEnv {
  KEEL_STEP_CONCURRENCY: number;
  KEEL_STEP_ACK_WAIT_MS: number;
  KEEL_STEP_MAX_DELIVER: number;
  KEEL_HEARTBEAT_MS: number;
}

/** What a step carries while it runs, so an interruption can still record what happened. */
interface StepProgress {
  events: NewEvent[];
  /** The model turn is booked in a checkpoint already (recorded before side effects, or resumed). */
  turnBooked: boolean;
  /** Script turns booked by a write-ahead checkpoint during this run (the state read at the start does not have them). */
  modelCallsBookedHere: number;
}

/**
 * The step loop. Each step is one JetStream work item; this runner rebuilds
 * the task from its last checkpoint (one query), runs the step (screen →
 * model via router → loop check → approval policy → tools via tool-executor →
 * screen tool output), then commits the checkpoint in one statement fenced on
 * the step number and publishes the next step.
 *
 * Before any tool that is not pure runs, the model's turn is checkpointed
 * (`pending`): a step redelivered after a crash continues from that turn, so
 * the model is not asked again and the tools (de-duplicated by the ledger)
 * are not re-run. See docs/architecture.md and docs/durable-execution.md.
 */
@Injectable()
export class StepRunner implements OnApplicationBootstrap {
  private readonly cache = new TaskStateCache();

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CheckpointRepository) private readonly checkpoints: CheckpointRepository,
    @Inject(PeersClient) private readonly peers: PeersClient,
    @Inject(StepDispatcher) private readonly dispatcher: StepDispatcher,
    @Inject(TaskEventsService) private readonly events: TaskEventsService,
    @Inject(CancellationRegistry) private readonly cancellation: CancellationRegistry,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ENV) private readonly env: StepRunnerEnv,
    @Inject(DecisionVerifier) private readonly verifier: DecisionVerifier,
    @Inject(MemoryService) private readonly memory: MemoryService,
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
    const fresh = work.reason === 'next' && (delivery?.deliveryCount ?? 1) === 1;
    const state = (fresh ? this.cache.take(work.taskId, work.step - 1) : undefined) ?? (await this.checkpoints.load(work.taskId));
    if (!fresh) this.cache.forget(work.taskId);
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
    if ((state.status === 'waiting_approval' || state.status === 'waiting_model') && work.reason !== 'resume') return;
    // A resume (e.g. straight from the approval service after a quick decision) that arrives before the step
    // that paused the task committed its pause: hand it back; it finds the pause (or the step done) shortly.
    if (work.reason === 'resume' && state.status === 'running') {
      throw new KeelError('unavailable', `step ${work.step} of task ${state.id} is still running; resume later`, { retryable: true, retryAfterMs: 200 });
    }

    const agent = effectiveAgent(this.agents.get(state.agent), state.variant); // the A/B variant's prompt, model and routing
    const started = performance.now();
    const progress: StepProgress = { events: [], turnBooked: false, modelCallsBookedHere: 0 };
    // A long step beats so the watchdog does not take it for a stalled one.
    const heartbeat = setInterval(() => void this.checkpoints.beat(state.id).catch(() => undefined), this.env.KEEL_HEARTBEAT_MS);
    try {
      await withSpan(`step ${work.step}`, {
        kind: SpanKind.INTERNAL,
        attributes: { 'keel.task.id': state.id, 'keel.tenant': state.tenant, 'keel.step': work.step, 'gen_ai.agent.name': state.agent, 'keel.delivery': delivery?.deliveryCount ?? 1, 'keel.step.reason': work.reason },
      }, async (span) => {
        let result: StepResult;
        try {
          result = await this.execute(state, work, agent, progress);
        } catch (err) {
          if (err instanceof TaskCancelled) return this.recordInterrupted(state, work.step, progress, 'cancelled');
          const e = KeelError.wrap(err);
          if (e.retryable) throw e; // nak: the step is redelivered and re-run from the same checkpoint
          result = this.finish(work.step, 'failed', { error: e.toJSON() }, [...progress.events, { type: 'step.failed', data: { step: work.step, error: e.toJSON() } }]);
        }
        span.setAttribute('keel.step.status', result.status);
        const expectStatus = [...ACTIVE_STATUSES];
        const { committed, events } = await this.checkpoints.commit({ ...result, taskId: state.id, expectStep: state.step, expectStatus });
        if (!committed) {
          stepsTotal.inc({ agent: state.agent, outcome: 'discarded' });
          // Cancelled meanwhile: what ran is still recorded. Otherwise another runner committed this step.
          if (this.cancellation.isCancelled(state.id) || (await this.checkpoints.load(state.id))?.status === 'cancelled') {
            await this.recordInterrupted(state, work.step, { ...progress, events: result.events.filter((e) => e.type.startsWith('tool.')) }, 'cancelled');
          } else {
            log.info('step already committed by another runner; discarding this result');
          }
          return;
        }
        this.events.publish(events);
        stepsTotal.inc({ agent: state.agent, outcome: result.status });
        if (result.finished) {
          tasksFinished.inc({ agent: state.agent, status: result.status });
          countExperimentOutcome(state, result.status);
          taskSteps.observe({ agent: state.agent, status: result.status }, result.step);
          taskDuration.observe({ agent: state.agent, status: result.status }, (Date.now() - state.createdAt.getTime()) / 1000);
        }
        // A conversation's new turn may push older ones out of the window: fold them into its summary (off the task's path).
        if (result.status === 'succeeded' && result.remember && agent) void this.memory.refreshSummary(state, agent, result.step);
        if (result.next === 'dispatch') {
          this.cache.put({
            ...state, step: result.step, status: 'running', pending: null,
            modelCalls: state.modelCalls + (result.modelCalls ?? 0) + progress.modelCallsBookedHere, transcript: [...state.transcript, ...result.messages],
          });
          await this.dispatcher.dispatch(state.id, work.step + 1, 'next', state.traceparent);
        }
      });
    } finally {
      clearInterval(heartbeat);
      stepSeconds.observe({ agent: state.agent }, (performance.now() - started) / 1000);
    }
  }

  private async execute(state: TaskState, work: StepWork, agent: Agent | undefined, progress: StepProgress): Promise<StepResult> {
    const step = work.step;
    const events = progress.events;
    if (!agent) return this.finish(step, 'failed', { error: { code: 'invalid_request', message: `agent "${state.agent}" is not loaded on this orchestrator` } });
    agent = withReplayOverrides(agent, state.metadata); // replay (docs/replay.md): its model and system prompt, for this task only
    if (Date.now() > state.deadlineAt.getTime()) {
      return this.finish(step, 'timed_out', { error: { code: 'timeout', message: `task exceeded its ${agent.limits.taskTimeoutMs} ms time limit` } });
    }
    if (step > agent.limits.maxSteps) {
      return this.finish(step, 'failed', { error: { code: 'max_steps_exceeded', message: `task used its ${agent.limits.maxSteps} steps without a final answer` } });
    }
    const stepDeadline = Math.min(Date.now() + agent.limits.stepTimeoutMs, state.deadlineAt.getTime());
    const overtime = () => {
      if (Date.now() > stepDeadline) throw new KeelError('step_timeout', `step ${step} exceeded its ${agent.limits.stepTimeoutMs} ms time limit`);
    };
    events.push({ type: 'step.started', data: { step, reason: work.reason } });
    const newMessages: ChatMessage[] = [];

    if (step === 1) {
      // Resumed after a person decided on the escalated input (or its gate expired): the stored review, never re-screened.
      const held = state.pending?.step === 1 && 'inputReview' in state.pending ? state.pending.inputReview : undefined;
      let input: string;
      // A reviewed input takes step 1 (the person's wait); the model's first turn is then step 2.
      let reviewed = false;
      if (held) {
        const review = await this.reviewInput(state, agent, held, events);
        if (review !== 'approved') return review;
        input = String(held.arguments.input);
        reviewed = true;
      } else {
        const thresholds = agent.guardrail?.thresholds;
        const verdict = await this.peers.screen({ text: state.input, channel: 'user', tenant: state.tenant, taskId: state.id, ...(thresholds ? { thresholds } : {}), ...(agent.guardrail?.redactIdentifiers ? { redactIdentifiers: true } : {}) });
        events.push({ type: 'guardrail.screened', data: { channel: 'user', verdict: verdict.verdict, categories: verdict.categories, score: verdict.score } });
        input = verdict.redacted ?? state.input;
        if (verdict.verdict === 'escalate' && agent.guardrail?.onEscalate === 'review') {
          // A person decides; the gate holds the input as screened (secrets cut), so that is what they see and approve.
          const call = { id: 'input_review', name: INPUT_REVIEW_TOOL, arguments: { input, categories: verdict.categories, score: verdict.score } };
          const review = await this.reviewInput(state, agent, call, events);
          if (review !== 'approved') return review;
          reviewed = true;
        } else if (verdict.verdict === 'block' || verdict.verdict === 'escalate') {
          return this.finish(step, 'failed', { error: { code: 'input_blocked', message: `the input was blocked by the guardrail (${verdict.categories.join(', ') || 'policy'})` } }, events);
        }
      }
      // Untrusted data in the prompt (tool output, remembered turns): the system prompt states how it is marked.
      const rules = [...(agent.tools.length > 0 ? [SPOTLIGHT_RULE] : []), ...(state.conversationId ? [MEMORY_RULE] : [])];
      const system = [agent.systemPrompt, ...rules].join('\n\n');
      newMessages.push({ role: 'system', content: system }, { role: 'user', content: input });
      if (reviewed) {
        events.push({ type: 'step.completed', data: { step, messageCount: state.transcript.length + newMessages.length, modelCalls: state.modelCalls } });
        return { step, status: 'running', messages: newMessages, events, pending: null, error: null, next: 'dispatch' };
      }
    }

    // The model turn: recorded earlier (resumed after approval or a crash) or asked now.
    let turn: CompleteResponse;
    let modelCalls = 0;
    let usage = { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    const specs = await this.toolSpecs(agent);
    if (state.pending && 'turn' in state.pending && state.pending.step === step) {
      turn = state.pending.turn;
      progress.turnBooked = true;
      if (work.reason !== 'resume') events.push({ type: 'model.recovered', data: { step, from: 'checkpoint', reason: work.reason } });
    } else {
      this.cancellation.checkpoint(state.id);
      try {
        const transcript = [...state.transcript, ...newMessages];
        // A conversation task's prompt: its transcript with memory fitted around it, within the context budget.
        const messages = state.conversationId ? await this.memory.assemble(state, agent, transcript, this.toolsForModel(agent, specs), events) : transcript;
        const answered = state.mode === 'batch'
          ? await this.batchTurn(state, agent, step, messages, stepDeadline, specs, events)
          : await this.callModel(state, agent, step, messages, stepDeadline, specs);
        // Parked: the turn waits in a provider batch; the router's settle message resumes this step.
        if (answered === null) return { step: step - 1, status: 'waiting_model', messages: [], events, pending: null, error: null };
        turn = answered;
      } catch (err) {
        const e = KeelError.wrap(err);
        if (e.retryable) throw e;
        const details = e.details as { attempts?: Attempt[]; scriptTurnsConsumed?: number } | undefined;
        events.push(...attemptEvents(details?.attempts ?? []));
        const error = e.code === 'timeout' && Date.now() >= stepDeadline
          ? { code: 'step_timeout' as const, message: `step ${step} exceeded its ${agent.limits.stepTimeoutMs} ms time limit waiting for the model`, details: e.details }
          : e.toJSON();
        return this.finish(step, 'failed', { error, modelCalls: details?.scriptTurnsConsumed ?? 0 }, events);
      }
      modelCalls = turn.scriptTurnsConsumed;
      usage = { ...turn.usage, costUsd: turn.costUsd };
      events.push(...attemptEvents(turn.attempts.filter((a) => a.error)));
      events.push({ type: 'model.completed', data: { model: turn.model, finishReason: turn.finishReason, usage: turn.usage, costUsd: turn.costUsd, attempts: turn.attempts.length, toolCalls: turn.toolCalls.map((c) => c.name), confidence: turn.confidence, route: turn.route, cache: turn.cache, downgradedFrom: turn.budget?.downgradedFrom } });
      events.push(...(turn.budget?.alerts ?? []).map((a) => ({ type: 'budget.alert', data: { step, ...a } })));
    }
    const booked = () => (progress.turnBooked ? { modelCalls: 0, usage: undefined } : { modelCalls, usage });

    if (turn.toolCalls.length === 0) {
      const verdict = await this.peers.screen({ text: turn.content ?? '', channel: 'output', tenant: state.tenant, taskId: state.id, ...(agent.guardrail?.redactIdentifiers ? { redactIdentifiers: true } : {}) });
      events.push({ type: 'guardrail.screened', data: { channel: 'output', verdict: verdict.verdict, categories: verdict.categories, score: verdict.score } });
      if (verdict.verdict === 'block') {
        return this.finish(step, 'failed', { error: { code: 'output_blocked', message: 'the final answer was blocked by the guardrail' }, ...booked() }, events);
      }
      const output = verdict.redacted ?? turn.content ?? '';
      newMessages.push({ role: 'assistant', content: output });
      const userTurn = [...state.transcript, ...newMessages].find((m) => m.role === 'user')?.content ?? state.input;
      // A replay is an experiment on a recorded task: it does not add turns to the conversation's memory.
      const remember = isReplay(state.metadata) ? undefined : this.memory.remember(state, userTurn, output);
      return this.finish(step, 'succeeded', { output, ...booked(), messages: newMessages, ...(remember ? { remember } : {}) }, events);
    }

    const calls: Required<ToolCall>[] = turn.toolCalls.map((c, i) => ({ ...c, id: c.id ?? `call_${step}_${i}`, arguments: c.arguments ?? {} }));

    // Loops: a third identical call in a row gets a hint instead of running; a fourth fails the task.
    const repetition = checkRepetition(state.transcript, calls);
    if (repetition.action === 'fail') {
      events.push({ type: 'loop.detected', data: { step, tool: calls[0].name, repeats: repetition.repeats } });
      return this.finish(step, 'failed', { error: { code: 'loop_detected', message: `the model kept calling ${calls.map((c) => c.name).join(', ')} with the same arguments (${repetition.repeats} times in a row) after being told it was repeating itself` }, ...booked() }, events);
    }
    // Rung 4 of the ladder: the model asks again for a tool that already failed with no stand-in.
    const unavailable = calls.find((c) => state.transcript.some((m) => m.role === 'tool' && m.name === c.name && m.content.includes(LADDER_MARKER)));
    if (unavailable) {
      const output = refusalOutput(unavailable.name);
      events.push({ type: 'ladder.refusal', data: { step, tool: unavailable.name } });
      newMessages.push({ role: 'assistant', content: output });
      return this.finish(step, 'failed', { output, error: { code: 'tool_unavailable', message: `${unavailable.name} is unavailable and the task could not be completed without it` }, ...booked(), messages: newMessages }, events);
    }

    // Write-ahead: record the turn before anything with a side effect runs.
    const sideEffects = calls.some((c) => specs.find((s) => s.name === c.name)?.idempotency !== 'pure');
    if (sideEffects && !progress.turnBooked && repetition.action === 'run') {
      const pending = await this.checkpoints.commit({
        taskId: state.id, step: step - 1, expectStep: state.step, expectStatus: [...ACTIVE_STATUSES],
        status: 'running', messages: [], events: events.splice(0), modelCalls, usage, pending: { step, turn }, error: null,
        // Two runners of one step (a redelivery racing a live runner) must not both book a turn.
        expectNoPending: true,
      });
      // Another runner of this step (a redelivery racing a live one) recorded its turn first, or the task was
      // cancelled. Not a failure of the task: hand the item back; run again later, it continues from that
      // runner's checkpoint (or finds the step done, or the task cancelled) and nothing runs twice.
      if (!pending.committed) {
        throw new KeelError('conflict', `task ${state.id} moved on while step ${step} ran (another runner recorded its turn, or it was cancelled)`, { retryable: true, retryAfterMs: 1_000 });
      }
      this.events.publish(pending.events);
      progress.turnBooked = true;
      progress.modelCallsBookedHere = modelCalls;
    }

    let decisions: CallDecision[] = [];
    // Least privilege: a read-only task's write calls need a person, or are refused outright (agent guardrail.intentMismatch).
    const intent = classifyIntent(state.input);
    // The registry's permission and risk for each tool (MCP tools, HTTP tools declared in the agent file) reach the policy too.
    const profiles = Object.fromEntries(specs.map((sp) => [sp.name, { permission: sp.permission, risk: sp.risk }]));
    const policy = calls.map((c) => decide(agent, c, turn.confidence, intent, profiles[c.name]));
    // The approval service is asked only when the shared policy says a call needs a person (gate or review).
    const needsApproval = policy.some((d) => d.action === 'review' || d.action === 'approve');
    const carried = needsApproval ? this.carriedApproval(work, state, calls, policy) : undefined;
    if (carried) {
      decisions = [carried];
    } else if (repetition.action === 'run' && needsApproval) {
      const check = await this.peers.checkApproval({ taskId: state.id, tenant: state.tenant, agent: agent.name, step, confidence: turn.confidence, calls, intent, specs: profiles });
      decisions = check.decisions;
      const waiting = decisions.filter((d) => d.action === 'wait');
      if (waiting.length > 0) {
        events.push(...waiting.map((d) => ({ type: 'approval.requested', data: { step, gateId: d.gateId, tool: calls[d.index].name, tier: d.tier, reason: d.reason } })));
        // The step count stays put: on resume the step runs again from here with the stored turn
        // (the input messages of step 1 are rebuilt then, so none are stored now).
        return { step: step - 1, status: 'waiting_approval', messages: [], events, ...booked(), pending: { step, turn }, error: null };
      }
    }

    newMessages.push({ role: 'assistant', content: turn.content, toolCalls: calls });
    for (const [i, call] of calls.entries()) {
      this.cancellation.checkpoint(state.id);
      overtime();
      let content: string;
      const decision = decisions.find((d) => d.index === i);
      if (repetition.action === 'hint') {
        content = loopHint(call.name, repetition.repeats);
        events.push({ type: 'loop.hint', data: { step, index: i, tool: call.name, repeats: repetition.repeats } });
      } else if (policy[i].action === 'block') {
        events.push({ type: 'policy.blocked', data: { step, index: i, tool: call.name, arguments: call.arguments, intent, reason: policy[i].reason } });
        content = `error: this call was refused by policy and did not run: ${policy[i].reason}`;
      } else if (decision?.action === 'rejected') {
        events.push({ type: 'tool.rejected', data: { step, index: i, tool: call.name, gateId: decision.gateId, comment: decision.comment, ...(decision.expired ? { expired: true } : {}) } });
        content = decision.expired
          ? 'error: approval timed out: nobody approved this call before its deadline, so it did not run'
          : `error: a human approver rejected this call${decision.comment ? `: ${decision.comment}` : ''}`;
      } else {
        const timeoutMs = Math.max(1, Math.min(agent.tools.find((t) => t.name === call.name)?.timeoutMs ?? agent.limits.toolTimeoutMs, stepDeadline - Date.now()));
        const res = await this.executeCall(state, agent.name, step, i, calls, timeoutMs, events, decision?.action === 'run' ? decision.gateId : undefined);
        if ('wait' in res) return { step: step - 1, status: 'waiting_approval', messages: [], events, ...booked(), pending: { step, turn }, error: null };
        const pure = specs.find((sp) => sp.name === call.name)?.idempotency === 'pure';
        content = 'content' in res ? res.content : await this.toolContent(state, call, res, events, step, i, pure, decision);
      }
      newMessages.push({ role: 'tool', toolCallId: call.id, name: call.name, content: spotlight(call.name, content) });
    }
    overtime();
    if (earlierOccurrences(state.transcript, calls, newMessages.filter((m) => m.role === 'tool').map((m) => m.content)) >= NO_PROGRESS_OCCURRENCES - 1) {
      events.push({ type: 'loop.no_progress', data: { step, tools: calls.map((c) => c.name) } });
      return this.finish(step, 'failed', { error: { code: 'no_progress', message: 'the task reached the same calls with the same results for the third time without progress' }, ...booked(), messages: newMessages }, events);
    }
    this.cancellation.checkpoint(state.id);
    // The step's boundary (transcript length and script cursor after it): where a replay from this step cuts (docs/replay.md).
    const modelCallsAfter = state.modelCalls + progress.modelCallsBookedHere + booked().modelCalls;
    events.push({ type: 'step.completed', data: { step, messageCount: state.transcript.length + newMessages.length, modelCalls: modelCallsAfter } });
    return { step, status: 'running', messages: newMessages, events, ...booked(), pending: null, error: null, next: 'dispatch' };
  }

  /**
   * An escalated user input at an approval gate (agent `guardrail.onEscalate: review`). The approval
   * service answers from the gate: approved → the step goes on with the input; still pending → the
   * task parks (`waiting_approval`, the review call as its pending item, resumed by the decision);
   * rejected or expired → the task fails with `input_blocked`. Nothing reaches the model before a yes.
   */
  private async reviewInput(state: TaskState, agent: Agent, call: Required<ToolCall>, events: NewEvent[]): Promise<'approved' | StepResult> {
    const check = await this.peers.checkApproval({ taskId: state.id, tenant: state.tenant, agent: agent.name, step: 1, calls: [call] });
    const d = check.decisions[0];
    if (d?.action === 'wait') {
      events.push({ type: 'approval.requested', data: { step: 1, gateId: d.gateId, tool: call.name, tier: d.tier, reason: d.reason } });
      return { step: 0, status: 'waiting_approval', messages: [], events, pending: { step: 1, inputReview: call }, error: null };
    }
    if (d?.action === 'run') {
      events.push({ type: 'guardrail.input_approved', data: { step: 1, gateId: d.gateId, reason: d.reason } });
      return 'approved';
    }
    events.push({ type: 'guardrail.input_rejected', data: { step: 1, gateId: d?.gateId, comment: d?.comment, ...(d?.expired ? { expired: true } : {}) } });
    const message = d?.expired
      ? 'the input was escalated by the guardrail for review and nobody decided before the deadline'
      : `the input was escalated by the guardrail and a person rejected it${d?.comment ? `: ${d.comment}` : ''}`;
    return this.finish(1, 'failed', { error: { code: 'input_blocked', message } }, events);
  }

  /**
   * One tool call through the ledger. A call whose earlier run has an unknown
   * outcome and that is not idempotent is never re-run silently: a person
   * decides through an approval gate (wait), and their decision either
   * re-runs it or leaves it not run (the model is told).
   */
  private async executeCall(state: TaskState, agent: string, step: number, index: number, calls: Required<ToolCall>[], timeoutMs: number, events: NewEvent[], approvalGateId?: string): Promise<ExecuteToolResponse | { wait: true } | { content: string }> {
    const call = calls[index];
    // Replay: the recorded call at this position answers instead of the tool, when it matches (docs/replay.md).
    const recorded = recordedKey(state.metadata, step, index);
    const request = {
      idempotencyKey: `${state.id}:${step}:${index}`, taskId: state.id, tenant: state.tenant, agent, step,
      name: call.name, arguments: call.arguments, timeoutMs,
      ...(recorded ? { replayOf: { idempotencyKey: recorded } } : {}),
      // The gate a person approved this call through: the tool-executor's audit row names it.
      ...(approvalGateId ? { approvalGateId } : {}),
    };
    try {
      return await this.peers.execute(request);
    } catch (err) {
      if (!(err instanceof KeelError) || err.code !== 'outcome_unknown') throw err;
      const check = await this.peers.checkApproval({ taskId: state.id, tenant: state.tenant, agent, step, calls, inDoubt: [index] });
      const decision = check.decisions.find((d) => d.index === index);
      events.push({ type: 'tool.outcome_unknown', data: { step, index, tool: call.name, idempotencyKey: request.idempotencyKey, arguments: call.arguments, gateId: decision?.gateId, action: decision?.action, details: err.details } });
      if (decision?.action === 'run') return this.peers.execute({ ...request, forceInDoubt: true, ...(decision.gateId ? { approvalGateId: decision.gateId } : {}) });
      if (decision?.action === 'rejected') return { content: `error (outcome_unknown): an earlier run of ${call.name} may or may not have taken effect, and a person decided not to run it again${decision.comment ? `: ${decision.comment}` : ''}` };
      events.push({ type: 'approval.requested', data: { step, gateId: decision?.gateId, tool: call.name, tier: 'approve', reason: decision?.reason } });
      return { wait: true };
    }
  }

  /** The tool message the model sees, screened as untrusted, with the degradation ladder's rungs made visible. */
  private async toolContent(state: TaskState, call: ToolCall, res: ExecuteToolResponse, events: NewEvent[], step: number, index: number, pure: boolean, decision?: CallDecision): Promise<string> {
    const key = `${state.id}:${step}:${index}`;
    let raw: string;
    // Keel's own notes (ladder rungs) frame the tool's data; only the data is datamarked.
    let frame = (data: string): string => datamark(data);
    if (res.ok) {
      raw = JSON.stringify(res.result);
      const degraded = res.degraded;
      if (degraded) {
        events.push({ type: `ladder.${degraded.rung}`, data: { step, index, tool: call.name, via: degraded.tool, ageMs: degraded.ageMs, cause: degraded.cause } });
        frame = (data) => degradedContent(datamark(data), degraded);
      } else if (res.cached) {
        const { ageMs } = res.cached;
        frame = (data) => cachedContent(datamark(data), ageMs);
      }
    } else if (isLadderFailure(res.error?.code)) {
      events.push({ type: 'ladder.model_knowledge', data: { step, index, tool: call.name, cause: res.error } });
      raw = modelKnowledgeContent(call.name, res.error!);
      frame = (text) => text;
    } else {
      raw = `error (${res.error?.code}): ${res.error?.message}`;
    }
    // Output of a pure tool (our own code, fed only the model's arguments) that holds no text at all
    // cannot carry instructions: the screening round trip is skipped. Anything with a string is screened.
    const screened = pure && res.ok && !res.degraded && isInert(res.result)
      ? { verdict: 'allow' as const, categories: ['inert'] }
      : await this.peers.screen({ text: raw, channel: 'tool_output', tenant: state.tenant, taskId: state.id, ...(this.agents.get(state.agent)?.guardrail?.redactIdentifiers ? { redactIdentifiers: true } : {}) });
    events.push({ type: 'tool.completed', data: {
      step, index, tool: call.name, idempotencyKey: key, ok: res.ok, replayed: res.replayed, ...(res.replayedFrom ? { replayedFrom: res.replayedFrom } : {}), durationMs: res.durationMs,
      error: res.error, degraded: res.degraded?.rung, cached: res.cached, review: decision?.action === 'review', guardrail: { verdict: screened.verdict, categories: screened.categories },
    } });
    const injection = screened.categories.filter((c) => c === 'prompt_injection' || c === 'jailbreak');
    if (injection.length > 0) {
      events.push({ type: 'guardrail.injection_neutralised', data: { step, index, tool: call.name, categories: injection, score: 'score' in screened ? screened.score : undefined, action: 'instructions removed; the rest is passed on spotlighted' } });
    }
    return frame(screened.verdict === 'allow' ? raw : (screened.redacted ?? '[tool output withheld by the guardrail]'));
  }

  /**
   * The approval a resumed step carries (see StepWork.approved), when it settles the step alone:
   * the only call needing a person is that gate's call, it needs an approval (not a review
   * record), and the signature verifies for exactly these arguments. Else undefined: ask.
   */
  private carriedApproval(work: StepWork, state: TaskState, calls: Required<ToolCall>[], policy: { action: string }[]): CallDecision | undefined {
    const a = work.approved;
    if (!a || a.tenant !== state.tenant) return undefined;
    const gated = policy.flatMap((d, i) => (d.action === 'review' || d.action === 'approve' ? [i] : []));
    if (gated.length !== 1 || gated[0] !== a.index || policy[a.index].action !== 'approve') return undefined;
    if (!this.verifier.approves(a, calls[a.index].arguments)) return undefined;
    return { index: a.index, action: 'run', tier: 'approve', reason: 'approved by a person (signed decision verified)', gateId: a.gateId };
  }

  private async toolSpecs(agent: Agent): Promise<ToolSpec[]> {
    return agent.tools.length ? this.peers.describeTools(agent.name) : [];
  }

  private async callModel(state: TaskState, agent: Agent, step: number, messages: ChatMessage[], deadline: number, specs: ToolSpec[]): Promise<CompleteResponse> {
    return this.peers.complete(this.completeRequest(state, agent, step, messages, deadline, specs));
  }

  /**
   * Batch mode: the first run of a step queues the turn (null: park the task as
   * `waiting_model`); the run resumed by the router's settle message collects the
   * answer. A batch that failed or expired falls back to a realtime call, so the
   * task still finishes, at the realtime price.
   */
  private async batchTurn(state: TaskState, agent: Agent, step: number, messages: ChatMessage[], deadline: number, specs: ToolSpec[], events: NewEvent[]): Promise<CompleteResponse | null> {
    const res = await this.peers.submitBatch(this.completeRequest(state, agent, step, messages, deadline, specs));
    if (res.status === 'pending') {
      events.push({ type: 'model.batch_queued', data: { step, itemId: res.itemId, queuedAt: res.queuedAt, ...(res.batchId ? { batchId: res.batchId } : {}) } });
      return null;
    }
    if (res.status === 'completed') {
      events.push({ type: 'model.batch_completed', data: { step, itemId: res.itemId, batchId: res.batchId } });
      return res.response;
    }
    events.push({ type: 'model.batch_failed', data: { step, itemId: res.itemId, error: res.error, fallback: 'realtime' } });
    return this.callModel(state, agent, step, messages, deadline, specs);
  }

  private completeRequest(state: TaskState, agent: Agent, step: number, messages: ChatMessage[], deadline: number, specs: ToolSpec[]): CompleteRequest {
    const script = this.scriptFor(state, agent);
    const tools = this.toolsForModel(agent, specs);
    return {
      taskId: state.id, tenant: state.tenant, agent: agent.name, step, model: agent.model, messages, tools,
      script, scriptCursor: state.modelCalls, deadline,
      ...(state.userId ? { userId: state.userId } : {}),
      ...(state.variant ? { variant: state.variant } : {}),
      ...(typeof state.metadata?.taskType === 'string' ? { taskType: state.metadata.taskType.slice(0, 100) } : {}),
    };
  }

  /** The scripted model needs no schemas; real providers get name, description and parameters. */
  private toolsForModel(agent: Agent, specs: ToolSpec[]): ToolSpec[] {
    return agent.model.startsWith('scripted/') ? [] : specs.map(({ name, description, parameters }) => ({ name, description, parameters }));
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
    const terminalEvent = status === 'succeeded' ? { type: 'task.succeeded', data: { step, output: extra.output } } : { type: `task.${status}`, data: { step, error: extra.error, output: extra.output } };
    return { step, status, messages: [], pending: null, error: null, ...extra, events: [...events, terminalEvent], finished: true };
  }

  /** A step stopped at a safe point (cancellation): record what did run, without moving the task. */
  private async recordInterrupted(state: TaskState, step: number, progress: StepProgress, reason: string): Promise<void> {
    const events = await this.checkpoints.appendEvents(state.id, [...progress.events.filter((e) => e.type.startsWith('tool.') || e.type.startsWith('ladder.')), { type: 'step.interrupted', data: { step, reason } }]);
    this.events.publish(events);
    stepsTotal.inc({ agent: state.agent, outcome: 'interrupted' });
  }

  /** A step that could not be processed at all still ends its task: nothing is left running forever. */
  private async onStepDeadLettered(work: StepWork | undefined, letter: DeadLetter): Promise<void> {
    if (!work) return;
    const state = await this.checkpoints.load(work.taskId);
    if (!state || !ACTIVE_STATUSES.includes(state.status)) return;
    const error = { code: 'step_failed' as const, message: `step ${work.step} could not be processed: ${letter.error.message}`, details: { deadLetterId: letter.id } };
    const { committed, events } = await this.checkpoints.commit({
      taskId: state.id, step: work.step, expectStep: state.step, expectStatus: [...ACTIVE_STATUSES],
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
