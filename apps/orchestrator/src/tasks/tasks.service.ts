import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { KeelError, taskIdFor } from '@keel/contracts';
import type { Agent, Feedback, SubmitTask, TaskEvent, TaskView } from '@keel/contracts';
import { AGENTS, LOGGER } from '@keel/service-kit';
import { counter, currentTraceId, SpanKind, traceparentOf, withSpan } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { TaskEventsService } from '../events/task-events.service';
import { StepDispatcher } from '../steps/step.dispatcher';
import { CancellationRegistry } from '../steps/cancellation.registry';
import { PeersClient } from '../peers/peers.client';
import { TaskRepository } from './task.repository';
import { assignVariant } from '../experiments/variants';
import { experimentTasks } from '../experiments/experiment-metrics';

const submitted = counter('keel_tasks_submitted_total', 'Tasks accepted, by agent and source', ['agent', 'source']);
const feedbackTotal = counter('keel_feedback_total', 'User feedback on tasks (user satisfaction), by score and agent', ['score', 'agent']);

export interface SubmitContext {
  tenant: string;
  source: 'rest' | 'nats';
  idempotencyKey?: string;
}

/**
 * Task intake shared by REST and NATS: validate against the loaded agents,
 * insert (idempotent by key), then publish step 1. A task is never acked to
 * its submitter before it is in Postgres, and a task whose first work item
 * could not be published is re-dispatched by the stranded-task sweeper.
 */
@Injectable()
export class TasksService {
  constructor(
    @Inject(TaskRepository) private readonly tasks: TaskRepository,
    @Inject(StepDispatcher) private readonly dispatcher: StepDispatcher,
    @Inject(TaskEventsService) private readonly events: TaskEventsService,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CancellationRegistry) private readonly cancellation: CancellationRegistry,
    @Inject(PeersClient) private readonly peers: PeersClient,
  ) {}

  async submit(body: SubmitTask, ctx: SubmitContext): Promise<{ id: string; status: string; created: boolean }> {
    const agentName = body.agent ?? 'demo';
    const agent = this.agents.get(agentName);
    if (!agent) {
      throw new KeelError('invalid_request', `unknown agent "${agentName}"; known agents: ${[...this.agents.keys()].sort().join(', ') || '(none)'}`);
    }
    const id = ctx.idempotencyKey ? taskIdFor(ctx.tenant, ctx.idempotencyKey) : randomUUID();
    return withSpan(`invoke_agent ${agent.name}`, {
      kind: SpanKind.SERVER,
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': agent.name, 'keel.tenant': ctx.tenant, 'keel.task.source': ctx.source },
    }, async (span) => {
      // A/B experiment: the variant, sticky by user (by task without a userId), recorded with the task.
      const experiment = assignVariant(agent, { tenant: ctx.tenant, agent: agent.name, userId: body.userId, taskId: id });
      if (experiment) span.setAttributes({ 'keel.experiment': experiment.experiment, 'keel.experiment.variant': experiment.variant, 'keel.experiment.assignment': experiment.assignment });
      const result = await this.tasks.create({
        id, tenant: ctx.tenant, userId: body.userId ?? null, agent: agent.name, source: ctx.source, mode: body.mode ?? 'realtime', input: body.input,
        metadata: body.metadata ?? {}, conversationId: body.conversationId ?? null, idempotencyKey: ctx.idempotencyKey ?? null,
        traceId: currentTraceId() ?? null, traceparent: traceparentOf() ?? null,
        deadlineAt: new Date(Date.now() + agent.limits.taskTimeoutMs), experiment,
      }, { agent: agent.name, source: ctx.source, mode: body.mode ?? 'realtime', ...(experiment ?? {}) });
      span.setAttribute('keel.task.id', result.id);
      span.setAttribute('keel.task.duplicate', !result.created);
      if (result.created) {
        submitted.inc({ agent: agent.name, source: ctx.source });
        if (experiment) experimentTasks.inc({ agent: agent.name, experiment: experiment.experiment, variant: experiment.variant, status: 'submitted' });
        this.logger.info({ task_id: result.id, tenant: ctx.tenant, agent: agent.name }, 'task submitted');
      }
      // Also for a duplicate still at step 0: its first publish may have failed (de-duplicated if not).
      if (result.status === 'queued' && result.step === 0) await this.dispatcher.dispatch(result.id, 1, 'start', result.traceparent);
      return { id: result.id, status: result.status, created: result.created };
    });
  }

  async get(tenant: string, id: string): Promise<TaskView> {
    const task = isUuid(id) ? await this.tasks.get(tenant, id) : null;
    if (!task) throw new KeelError('not_found', `task ${id} not found`);
    return task;
  }

  async cancel(tenant: string, id: string, by: string): Promise<{ id: string; status: string }> {
    if (!isUuid(id)) throw new KeelError('not_found', `task ${id} not found`);
    const r = await this.tasks.cancel(tenant, id, by);
    if (!r.found) throw new KeelError('not_found', `task ${id} not found`);
    if (r.event) {
      this.events.publish([r.event]);
      this.cancellation.announce(id);
      // Gates the task waited on leave the approvers' list (not awaited: the cancel is already committed).
      void this.peers.withdrawApprovals({ taskId: id, tenant, reason: 'cancelled' })
        .catch((err: unknown) => this.logger.warn({ err, task_id: id }, 'could not withdraw the cancelled task\'s approval gates; they expire at their deadline'));
    }
    return { id, status: r.status! };
  }

  async feedback(tenant: string, id: string, fb: Feedback): Promise<void> {
    const task = isUuid(id) ? await this.tasks.addFeedback(tenant, id, fb.score, fb.comment) : null;
    if (!task) throw new KeelError('not_found', `task ${id} not found`);
    feedbackTotal.inc({ score: fb.score === 1 ? 'positive' : 'negative', agent: task.agent });
  }

  eventsAfter(taskId: string, seq: number): Promise<TaskEvent[]> {
    return this.tasks.events(taskId, seq);
  }
}

export const isUuid = (s: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
