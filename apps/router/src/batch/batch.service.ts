import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CompleteRequestSchema, KeelError, QueueGroups, Subjects } from '@keel/contracts';
import type { Agent, BatchItemSettled, BatchSubmitResponse, CompleteRequest, CompleteResponse } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import { DataSource } from '@keel/persistence';
import { AGENTS, ENV, LOGGER } from '@keel/service-kit';
import { counter, gauge, histogram } from '@keel/telemetry';
import type { Logger } from '@keel/telemetry';
import { AnomalyGuard } from '../anomaly/anomaly.guard';
import { BudgetAccountant } from '../budgets/budget-accountant.service';
import { splitModel, toCompleteResponse } from '../completion/complete';
import { fromOpenAiCompletion, toOpenAiRequest } from '../providers/openai.provider';
import { buildBatchClients } from '../providers/provider.registry';
import { BatchRepository } from './batch.repository';
import type { BatchItem } from './batch.repository';
import { BATCH_ENDPOINT, FINAL_BATCH_STATUSES } from './openai-batch.client';
import type { BatchOutputLine, OpenAiBatchClient } from './openai-batch.client';

const itemsTotal = counter('keel_batch_items_total', 'Batched model turns by outcome (queued, completed, failed)', ['outcome']);
const batchesTotal = counter('keel_batches_total', 'Provider batches created, and submissions that failed', ['provider', 'outcome']);
const turnaround = histogram('keel_batch_turnaround_seconds', 'Queued to settled, per batched turn', ['provider'], [10, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600]);
const backlog = gauge('keel_batch_items', 'Batched turns not settled yet, by status (queued, submitted)', ['status']);

/** The provider's completion window (24 h) plus a margin: the reservation is held until then. */
const RESERVATION_HOLD_MS = 26 * 3600 * 1000;

export interface BatchEnv {
  KEEL_BATCH_FLUSH_MS: number;
  KEEL_BATCH_POLL_MS: number;
  KEEL_BATCH_MAX_ITEMS: number;
}

/**
 * The batch path: batch-mode tasks' model turns at the provider's batch price.
 *
 * `keel.v1.router.batch.submit` admits the turn against budgets (reserving the
 * realtime estimate, held for the batch window) and queues it; a flush every
 * KEEL_BATCH_FLUSH_MS sends each provider's queue as one OpenAI batch; a poll
 * every KEEL_BATCH_POLL_MS settles finished batches (usage at the batch price,
 * budgets, failures) and announces each settled turn on the durable
 * `keel.v1.router.batch.settled` (outbox: re-announced until published), which
 * resumes the task. The same submit then answers with the result.
 *
 * Trade-off: half the price, but a turn takes the flush interval plus the
 * provider's turnaround (minutes, at most 24 h). The requested model answers:
 * no cascade, fallback or response cache on this path.
 */
@Injectable()
export class BatchService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly clients: Map<string, OpenAiBatchClient>;
  private readonly repo: BatchRepository;
  private readonly timers: NodeJS.Timeout[] = [];
  private running = false;

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(DataSource) db: DataSource,
    @Inject(ENV) private readonly env: BatchEnv,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Inject(BudgetAccountant) private readonly budgets: BudgetAccountant,
    @Inject(AnomalyGuard) private readonly anomalies: AnomalyGuard,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.clients = buildBatchClients({ ...process.env, ...(env as unknown as Record<string, string | undefined>) });
    this.repo = new BatchRepository(db);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.ensureStream(STREAMS.batches);
    this.bus.serve({ subject: Subjects.routerBatchSubmit, queue: QueueGroups.router, schema: CompleteRequestSchema, handler: (req) => this.submit(req) });
    const every = (ms: number, work: () => Promise<unknown>) => {
      const t = setInterval(() => void this.exclusive(work), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.env.KEEL_BATCH_FLUSH_MS, () => this.flush());
    every(this.env.KEEL_BATCH_POLL_MS, () => this.poll());
  }

  onApplicationShutdown(): void {
    for (const t of this.timers) clearInterval(t);
  }

  /** Queues the turn, or reports on it: idempotent per task step. */
  async submit(req: CompleteRequest): Promise<BatchSubmitResponse> {
    const id = `${req.taskId}:${req.step}`;
    const existing = await this.repo.get(id);
    if (existing) return view(existing);
    const { providerId, modelName } = splitModel(req.model);
    if (!this.clients.has(providerId)) {
      const usable = [...this.clients.keys()].sort().join(', ') || 'none configured';
      throw new KeelError('invalid_request', `model provider "${providerId}" has no batch API; batch-mode tasks need an OpenAI-compatible provider with the Batch API (usable: ${usable})`);
    }
    this.anomalies.check(req);
    const admission = await this.budgets.admit(req, this.agents.get(req.agent));
    const body = toOpenAiRequest(modelName, req.messages, req.tools, false);
    const maxTokens = admission.maxOutputTokens ?? req.maxOutputTokens;
    if (maxTokens !== undefined) body.max_tokens = maxTokens;
    try {
      await this.budgets.holdForBatch(admission, new Date(Date.now() + RESERVATION_HOLD_MS));
      const inserted = await this.repo.insert({ id, tenant: req.tenant, taskId: req.taskId, step: req.step, provider: providerId, model: req.model, request: req, body, admission });
      if (!inserted) {
        // A concurrent submit of the same step (a redelivered step) queued it first.
        await this.budgets.release(admission);
        const item = await this.repo.get(id);
        if (item) return view(item);
      }
    } catch (err) {
      await this.budgets.release(admission);
      throw err;
    }
    itemsTotal.inc({ outcome: 'queued' });
    return { status: 'pending', itemId: id, queuedAt: new Date().toISOString() };
  }

  /** Sends each provider's queued turns as batches of at most KEEL_BATCH_MAX_ITEMS. */
  async flush(): Promise<number> {
    let sent = 0;
    for (const provider of await this.repo.providersWithQueued()) {
      const client = this.clients.get(provider);
      if (!client) continue; // configuration changed since queueing; settled as failed by the poll below
      for (;;) {
        let attempted: BatchItem[] = [];
        try {
          const r = await this.repo.submitQueued(provider, this.env.KEEL_BATCH_MAX_ITEMS, async (items) => {
            attempted = items;
            const { batch, inputFileId } = await client.submit(
              items.map((i) => ({ custom_id: i.id, method: 'POST', url: BATCH_ENDPOINT, body: i.body })),
              { keel_items: String(items.length) },
            );
            return { batchId: batch.id, status: batch.status, inputFileId };
          });
          if (!r) break;
          sent += r.count;
          batchesTotal.inc({ provider, outcome: 'created' });
          this.logger.info({ provider, batch_id: r.batchId, items: r.count }, 'batch submitted');
          if (r.count < this.env.KEEL_BATCH_MAX_ITEMS) break;
        } catch (err) {
          batchesTotal.inc({ provider, outcome: 'submit_failed' });
          const e = KeelError.wrap(err);
          this.logger.warn({ err: e, provider, items: attempted.length }, 'batch submission failed; the items stay queued');
          const exhausted = await this.repo.submitFailed(attempted.map((i) => i.id), { code: e.code, message: e.message });
          for (const item of exhausted) await this.fail(item, { code: 'batch_submit_failed', message: `the provider refused the batch: ${e.message}` });
          break;
        }
      }
    }
    await this.announce();
    return sent;
  }

  /** Polls open batches; settles the items of finished ones; announces settled items. */
  async poll(): Promise<number> {
    let settled = 0;
    for (const b of await this.repo.claimOpenBatches(this.env.KEEL_BATCH_POLL_MS)) {
      const client = this.clients.get(b.provider);
      if (!client) continue;
      try {
        const batch = await client.retrieve(b.id);
        const final = FINAL_BATCH_STATUSES.includes(batch.status);
        if (!final) {
          await this.repo.setBatchStatus(b.id, batch.status, false);
          continue;
        }
        const lines = new Map<string, BatchOutputLine>();
        for (const fileId of [batch.error_file_id, batch.output_file_id]) {
          // Output last: a line in both (should not happen) counts as answered.
          if (fileId) for (const line of await client.lines(fileId)) lines.set(line.custom_id, line);
        }
        const batchError = batch.errors?.data?.[0];
        for (const item of await this.repo.submittedItems(b.id)) {
          settled += (await this.settleItem(item, lines.get(item.id), batch.status, batchError?.message ?? undefined)) ? 1 : 0;
        }
        await this.repo.setBatchStatus(b.id, batch.status, true);
        this.logger.info({ provider: b.provider, batch_id: b.id, status: batch.status, counts: batch.request_counts }, 'batch finished');
      } catch (err) {
        // Transient (network, 5xx): the batch stays open and is polled again.
        this.logger.warn({ err, batch_id: b.id }, 'could not poll a batch; will retry');
      }
    }
    await this.announce();
    return settled;
  }

  private async settleItem(item: BatchItem, line: BatchOutputLine | undefined, batchStatus: string, batchError: string | undefined): Promise<boolean> {
    const ok = line?.response?.status_code === 200 ? line.response.body : undefined;
    if (ok === undefined) {
      const why = line?.error?.message ?? errorOf(line?.response?.body)
        ?? (batchStatus === 'completed' ? 'the batch output has no line for this turn' : `the batch ended ${batchStatus}${batchError ? `: ${batchError}` : ''}`);
      const code = line?.error?.code ?? (line?.response ? `http_${line.response.status_code}` : `batch_${batchStatus}`);
      return this.fail(item, { code, message: why });
    }
    let res: CompleteResponse;
    try {
      res = toCompleteResponse(item.request, fromOpenAiCompletion(item.provider, ok), [], 0, { prices: this.budgets.prices, batch: true });
    } catch (err) {
      return this.fail(item, { code: 'malformed_response', message: KeelError.wrap(err).message });
    }
    // Usage first (idempotent by id): a crash before the item is marked re-runs this, never double-bills.
    const budget = await this.budgets.settleBatch(item.request, item.admission, res, usageIdFor(item.id));
    if (budget) res = { ...res, budget };
    this.anomalies.record(item.request, res.usage.inputTokens + res.usage.outputTokens);
    const won = await this.repo.settle(item.id, { status: 'completed', response: res });
    if (won) {
      itemsTotal.inc({ outcome: 'completed' });
      turnaround.observe({ provider: item.provider }, (Date.now() - item.createdAt.getTime()) / 1000);
    }
    return won;
  }

  private async fail(item: BatchItem, error: { code: string; message: string }): Promise<boolean> {
    const won = await this.repo.settle(item.id, { status: 'failed', error });
    if (won) {
      await this.budgets.release(item.admission);
      itemsTotal.inc({ outcome: 'failed' });
      this.logger.warn({ task_id: item.taskId, item: item.id, error }, 'batched turn failed; its task falls back to a realtime call');
    }
    return won;
  }

  /** The outbox: every settled, unannounced item is published (de-duplicated by msg id) and then marked. */
  private async announce(): Promise<void> {
    const items = await this.repo.unannounced();
    const done: string[] = [];
    for (const item of items) {
      const msg: BatchItemSettled = { itemId: item.id, taskId: item.taskId, tenant: item.tenant, step: item.step, status: item.status === 'completed' ? 'completed' : 'failed' };
      try {
        await this.bus.publish(Subjects.routerBatchSettled, msg, { msgId: `batch:${item.id}` });
        done.push(item.id);
      } catch (err) {
        this.logger.warn({ err, item: item.id }, 'could not announce a settled batch turn; will retry');
        break;
      }
    }
    await this.repo.markAnnounced(done);
    const counts = await this.repo.counts();
    backlog.set({ status: 'queued' }, counts.queued);
    backlog.set({ status: 'submitted' }, counts.submitted);
  }

  /** One flush or poll at a time per replica (replicas coordinate through row locks). */
  private async exclusive(work: () => Promise<unknown>): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await work();
    } catch (err) {
      this.logger.warn({ err }, 'batch tick failed');
    } finally {
      this.running = false;
    }
  }
}

function view(item: BatchItem): BatchSubmitResponse {
  if (item.status === 'completed' && item.response && item.batchId) return { status: 'completed', itemId: item.id, batchId: item.batchId, response: item.response };
  if (item.status === 'failed') return { status: 'failed', itemId: item.id, ...(item.batchId ? { batchId: item.batchId } : {}), error: item.error ?? { code: 'batch_failed', message: 'the batched turn failed' } };
  return { status: 'pending', itemId: item.id, queuedAt: item.createdAt.toISOString(), ...(item.batchId ? { batchId: item.batchId } : {}) };
}

function errorOf(body: unknown): string | undefined {
  const e = (body as { error?: { message?: unknown } } | undefined)?.error;
  return typeof e?.message === 'string' ? e.message : undefined;
}

/** A stable UUID per item for its usage row when no budget reservation gives one. */
function usageIdFor(itemId: string): string {
  const h = createHash('sha1').update(`keel:batch-usage:${itemId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
