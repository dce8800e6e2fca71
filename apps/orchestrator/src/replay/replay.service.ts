import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { KeelError, ScriptSchema, withVariant } from '@keel/contracts';
import type { Agent, TaskView } from '@keel/contracts';
import { AGENTS, LOGGER } from '@keel/service-kit';
import { counter, currentTraceId, SpanKind, traceparentOf, withSpan } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { CheckpointRepository } from '../checkpoints/checkpoint.repository';
import { StepDispatcher } from '../steps/step.dispatcher';
import { TaskRepository } from '../tasks/task.repository';
import { isUuid, TasksService } from '../tasks/tasks.service';
import { describeRun, pairSteps, summary } from './compare';
import type { Comparison } from './compare';
import { cutTranscript, lineageOf, REPLAY_KEY, replayMeta, systemContent, withReplayOverrides } from './replay-plan';
import type { ReplayMeta, ReplayRequest } from './replay-plan';
import { ReplayRepository } from './replay.repository';
import type { StepBoundary } from './replay.repository';

const replays = counter('keel_task_replays_total', 'Replay tasks created, by agent and whether tools run live', ['agent', 'live_tools']);

export interface ReplayAccepted {
  id: string;
  status: string;
  replayOf: string;
  fromStep: number;
}

/**
 * Replay (docs/replay.md): a new task that starts from a checkpoint of a
 * recorded one (its transcript up to the end of step N, same input, tenant,
 * user and conversation) and runs on from step N+1 with a changed model,
 * system prompt, agent or metadata. Its tool calls at the original's
 * positions return the recorded results (the tool-executor compares them with
 * the original's ledger), so no side effect is repeated.
 */
@Injectable()
export class ReplayService {
  constructor(
    @Inject(CheckpointRepository) private readonly checkpoints: CheckpointRepository,
    @Inject(ReplayRepository) private readonly repo: ReplayRepository,
    @Inject(TaskRepository) private readonly tasks: TaskRepository,
    @Inject(TasksService) private readonly taskService: TasksService,
    @Inject(StepDispatcher) private readonly dispatcher: StepDispatcher,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async replay(tenant: string, id: string, body: ReplayRequest): Promise<ReplayAccepted> {
    const original = isUuid(id) ? await this.checkpoints.load(id) : null;
    // Another tenant's task is simply not there.
    if (!original || original.tenant !== tenant) throw new KeelError('not_found', `task ${id} not found`);
    const n = body.fromStep;
    if (n < 0 || n > original.step) {
      throw new KeelError('invalid_request', `fromStep must be between 0 and ${original.step} (the steps task ${id} has recorded); got ${n}`);
    }
    const agentName = body.agent ?? original.agent;
    const base = this.agents.get(agentName);
    if (!base) throw new KeelError('invalid_request', `unknown agent "${agentName}"; known agents: ${[...this.agents.keys()].sort().join(', ') || '(none)'}`);
    if (body.metadata && REPLAY_KEY in body.metadata) throw new KeelError('invalid_request', `metadata.${REPLAY_KEY} is reserved: Keel records the replay there`);
    if (body.metadata?.script !== undefined) {
      const parsed = ScriptSchema.safeParse(body.metadata.script);
      if (!parsed.success) throw new KeelError('invalid_request', `metadata.script is not a valid script: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }

    const boundary = await this.boundaryOf(original.id, original.metadata, n, { step: original.step, messageCount: original.transcript.length, modelCalls: original.modelCalls });
    if (!boundary || boundary.messageCount > original.transcript.length) {
      throw new KeelError('conflict', `task ${id} was recorded before replay support: where its step ${n} ended is not known, so it cannot be replayed from there (replay it from step 0 or ${original.step})`);
    }

    const { [REPLAY_KEY]: _previous, ...inherited } = original.metadata ?? {};
    // A replay is not a unit of the original's A/B experiment (it would skew its results), but it runs as the
    // original ran: the original's variant (its model and prompt), or its own overrides of a replay, carry over.
    const ran = agentName === original.agent ? withReplayOverrides(withVariant(base, original.variant), original.metadata) : base;
    const model = body.model ?? (ran.model !== base.model ? ran.model : undefined);
    const systemPrompt = body.systemPrompt ?? (ran.systemPrompt !== base.systemPrompt ? ran.systemPrompt : undefined);
    // A new script scripts the new steps (from its first turn); otherwise the original's script goes on where step N left it.
    const modelCalls = body.metadata?.script !== undefined ? 0 : boundary.modelCalls;
    const meta: ReplayMeta = {
      of: original.id, fromStep: n, messageCount: boundary.messageCount, modelCalls, liveTools: body.liveTools ?? false,
      recorded: lineageOf(original.id, original.metadata),
      ...(model !== undefined ? { model } : {}),
      ...(systemPrompt !== undefined ? { systemPrompt } : {}),
      ...(body.agent !== undefined ? { agent: body.agent } : {}),
    };
    const metadata = { ...inherited, ...body.metadata, [REPLAY_KEY]: meta };
    const agent = withReplayOverrides(base, metadata);
    // A new system prompt (given, or another agent's) replaces the copied system message too.
    const newSystem = body.systemPrompt !== undefined || agentName !== original.agent;
    const messages = cutTranscript(original.transcript, boundary.messageCount, newSystem ? systemContent(agent, original.conversationId) : undefined);

    const newId = randomUUID();
    return withSpan(`replay_task ${agent.name}`, {
      kind: SpanKind.SERVER,
      attributes: { 'keel.task.id': newId, 'keel.tenant': tenant, 'keel.replay.of': original.id, 'keel.replay.from_step': n, 'gen_ai.agent.name': agent.name },
    }, async () => {
      const traceparent = traceparentOf() ?? null;
      await this.repo.create({
        id: newId, tenant, userId: original.userId, agent: agent.name, mode: original.mode, input: original.input, metadata,
        conversationId: original.conversationId, traceId: currentTraceId() ?? null, traceparent,
        deadlineAt: new Date(Date.now() + agent.limits.taskTimeoutMs), replayOf: original.id, fromStep: n, modelCalls,
        messageCount: messages.length, ...(newSystem && messages[0]?.role === 'system' ? { system: messages[0] } : {}),
        event: { agent: agent.name, source: 'replay', mode: original.mode, replayOf: original.id, fromStep: n, model: agent.model, liveTools: meta.liveTools, messageCount: boundary.messageCount },
      });
      replays.inc({ agent: agent.name, live_tools: String(meta.liveTools) });
      this.logger.info({ task_id: newId, tenant, replay_of: original.id, from_step: n }, 'replay task created');
      // A lost publish is caught by the watchdog: stranded (queued at step 0) or stalled (running).
      await this.dispatcher.dispatch(newId, n + 1, n === 0 ? 'start' : 'next', traceparent);
      return { id: newId, status: n === 0 ? 'queued' : 'running', replayOf: original.id, fromStep: n };
    });
  }

  /** A replay beside its original, step by step. */
  async compare(tenant: string, id: string): Promise<Comparison> {
    const view = await this.taskService.get(tenant, id);
    const meta = replayMeta(view.metadata);
    if (!meta) throw new KeelError('invalid_request', `task ${id} is not a replay; compare takes the id of a replay (POST /v1/tasks/{id}/replay)`);
    let original: TaskView | null = null;
    try {
      original = await this.taskService.get(tenant, meta.of);
    } catch (err) {
      if (!(err instanceof KeelError) || err.code !== 'not_found') throw err;
    }
    const [replayRun, originalRun] = await Promise.all([this.run(id), original ? this.run(original.id) : Promise.resolve(null)]);
    return {
      fromStep: meta.fromStep,
      overrides: {
        liveTools: meta.liveTools,
        ...(meta.model !== undefined ? { model: meta.model } : {}),
        ...(meta.systemPrompt !== undefined ? { systemPrompt: meta.systemPrompt } : {}),
        ...(meta.agent !== undefined ? { agent: meta.agent } : {}),
      },
      original: original ? summary(original) : null,
      replay: summary(view),
      steps: pairSteps(meta.fromStep, originalRun, replayRun ?? []),
    };
  }

  private async run(taskId: string) {
    const [state, events] = await Promise.all([this.checkpoints.load(taskId), this.tasks.events(taskId, 0)]);
    return state ? describeRun(state.transcript, events) : null;
  }

  /**
   * Where step `n` of a task ended. Step 0 is the empty start; a step a replay shares with its original
   * ends where the original's did (a replay has no events for those); any other step's end is read from
   * its `step.completed`; the last recorded step (a final answer or a failure has none) ends with the task.
   */
  private async boundaryOf(taskId: string, metadata: Record<string, unknown>, n: number, last?: { messageCount: number; modelCalls: number; step: number }): Promise<StepBoundary | null> {
    if (n === 0) return { messageCount: 0, modelCalls: 0 };
    const shared = replayMeta(metadata);
    if (shared && n <= shared.fromStep) {
      if (n === shared.fromStep) return { messageCount: shared.messageCount, modelCalls: shared.modelCalls ?? 0 };
      const parent = await this.repo.metadataOf(shared.of);
      return parent ? this.boundaryOf(shared.of, parent, n) : null;
    }
    const recorded = await this.repo.boundary(taskId, n);
    return recorded ?? (last && n === last.step ? { messageCount: last.messageCount, modelCalls: last.modelCalls } : null);
  }

}
