import type { CompleteRequest, CompleteResponse } from '@keel/contracts';
import type { DataSource } from '@keel/persistence';
import type { EntityManager } from 'typeorm';
import type { Admission } from '../budgets/budget-accountant.service';
import type { BatchInputLine } from './openai-batch.client';

export type BatchItemStatus = 'queued' | 'submitted' | 'completed' | 'failed';

export interface BatchItem {
  id: string;
  tenant: string;
  taskId: string;
  step: number;
  provider: string;
  status: BatchItemStatus;
  request: CompleteRequest;
  body: BatchInputLine['body'];
  admission: Admission;
  batchId: string | null;
  response: CompleteResponse | null;
  error: { code: string; message: string } | null;
  createdAt: Date;
}

type ItemRow = {
  id: string; tenant: string; task_id: string; step: number; provider: string; status: BatchItemStatus; request: CompleteRequest;
  body: BatchInputLine['body']; admission: Admission; batch_id: string | null; response: CompleteResponse | null;
  error: { code: string; message: string } | null; created_at: Date;
};

const toItem = (r: ItemRow): BatchItem => ({
  id: r.id, tenant: r.tenant, taskId: r.task_id, step: r.step, provider: r.provider, status: r.status, request: r.request, body: r.body,
  admission: r.admission, batchId: r.batch_id, response: r.response, error: r.error, createdAt: new Date(r.created_at),
});

const ITEM_COLUMNS = 'id, tenant, task_id, step, provider, status, request, body, admission, batch_id, response, error, created_at';

/** Submission attempts after which queued items are failed (their tasks fall back to realtime). */
export const MAX_SUBMIT_ATTEMPTS = 3;

/**
 * SQL for the batch path (tables in migrations/1764000000030-batch.ts). Every
 * state change is fenced on the previous status, so two router replicas
 * polling the same batch settle each item once.
 */
export class BatchRepository {
  constructor(private readonly db: DataSource) {}

  async get(id: string): Promise<BatchItem | null> {
    const rows: ItemRow[] = await this.db.query(`SELECT ${ITEM_COLUMNS} FROM router.batch_items WHERE id = $1`, [id]);
    return rows[0] ? toItem(rows[0]) : null;
  }

  /** False when the item exists already (a concurrent submit of the same step won). */
  async insert(item: { id: string; tenant: string; taskId: string; step: number; provider: string; model: string; request: CompleteRequest; body: BatchInputLine['body']; admission: Admission }): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `WITH i AS (
         INSERT INTO router.batch_items (id, tenant, task_id, step, provider, model, request, body, admission, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued') ON CONFLICT (id) DO NOTHING RETURNING 1
       ) SELECT 1 FROM i`,
      [item.id, item.tenant, item.taskId, item.step, item.provider, item.model, JSON.stringify(item.request), JSON.stringify(item.body), JSON.stringify(item.admission)],
    );
    return rows.length === 1;
  }

  /** Providers with queued items, oldest first. */
  async providersWithQueued(): Promise<string[]> {
    const rows: { provider: string }[] = await this.db.query(
      `SELECT provider FROM router.batch_items WHERE status = 'queued' GROUP BY provider ORDER BY min(created_at)`,
    );
    return rows.map((r) => r.provider);
  }

  /**
   * In one transaction: locks up to `limit` queued items of a provider (other
   * replicas skip them), lets `send` create the provider batch, then records it
   * and marks the items submitted. If `send` throws, nothing changes here.
   */
  async submitQueued(provider: string, limit: number, send: (items: BatchItem[]) => Promise<{ batchId: string; status: string; inputFileId: string }>): Promise<{ batchId: string; count: number } | null> {
    return this.db.transaction(async (m: EntityManager) => {
      const rows: ItemRow[] = await m.query(
        `SELECT ${ITEM_COLUMNS} FROM router.batch_items WHERE provider = $1 AND status = 'queued'
          ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [provider, limit],
      );
      if (rows.length === 0) return null;
      const sent = await send(rows.map(toItem));
      await m.query('INSERT INTO router.batches (id, provider, status, input_file_id, item_count) VALUES ($1, $2, $3, $4, $5)',
        [sent.batchId, provider, sent.status, sent.inputFileId, rows.length]);
      await m.query(`UPDATE router.batch_items SET status = 'submitted', batch_id = $1, submitted_at = now() WHERE id = ANY($2::text[])`,
        [sent.batchId, rows.map((r) => r.id)]);
      return { batchId: sent.batchId, count: rows.length };
    });
  }

  /** A failed submission: counts the attempt; returns the items that have now used up their attempts. */
  async submitFailed(ids: readonly string[], error: { code: string; message: string }): Promise<BatchItem[]> {
    const rows: ItemRow[] = await this.db.query(
      `WITH u AS (
         UPDATE router.batch_items SET submit_attempts = submit_attempts + 1, error = $2
          WHERE id = ANY($1::text[]) AND status = 'queued' RETURNING *
       ) SELECT ${ITEM_COLUMNS} FROM u WHERE submit_attempts >= $3`,
      [ids, JSON.stringify(error), MAX_SUBMIT_ATTEMPTS],
    );
    return rows.map(toItem);
  }

  /**
   * Open batches due for a poll, claimed by pushing `checked_at` forward: a
   * replica that polls at the same moment claims none of the same batches.
   */
  async claimOpenBatches(pollMs: number, limit = 20): Promise<{ id: string; provider: string }[]> {
    return this.db.query(
      `WITH c AS (
         UPDATE router.batches SET checked_at = now()
          WHERE id IN (SELECT id FROM router.batches WHERE finished_at IS NULL AND checked_at <= now() - ($1::int * interval '1 millisecond')
                        ORDER BY checked_at LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING id, provider
       ) SELECT id, provider FROM c`,
      [Math.floor(pollMs / 2), limit],
    );
  }

  async setBatchStatus(id: string, status: string, finished: boolean): Promise<void> {
    await this.db.query(`UPDATE router.batches SET status = $2, finished_at = CASE WHEN $3::boolean THEN now() ELSE finished_at END WHERE id = $1`, [id, status, finished]);
  }

  async submittedItems(batchId: string): Promise<BatchItem[]> {
    const rows: ItemRow[] = await this.db.query(`SELECT ${ITEM_COLUMNS} FROM router.batch_items WHERE batch_id = $1 AND status = 'submitted'`, [batchId]);
    return rows.map(toItem);
  }

  /** Settles one item (fenced: only an unsettled item); false if it was settled already. */
  async settle(id: string, outcome: { status: 'completed'; response: CompleteResponse } | { status: 'failed'; error: { code: string; message: string } }): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `WITH u AS (
         UPDATE router.batch_items SET status = $2, response = $3, error = $4, settled_at = now()
          WHERE id = $1 AND status IN ('queued', 'submitted') RETURNING 1
       ) SELECT 1 FROM u`,
      [id, outcome.status, outcome.status === 'completed' ? JSON.stringify(outcome.response) : null, outcome.status === 'failed' ? JSON.stringify(outcome.error) : null],
    );
    return rows.length === 1;
  }

  /** Settled items whose announcement has not been confirmed (the outbox). */
  async unannounced(limit = 500): Promise<BatchItem[]> {
    const rows: ItemRow[] = await this.db.query(
      `SELECT ${ITEM_COLUMNS} FROM router.batch_items WHERE settled_at IS NOT NULL AND announced_at IS NULL ORDER BY settled_at LIMIT $1`,
      [limit],
    );
    return rows.map(toItem);
  }

  async markAnnounced(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.db.query('UPDATE router.batch_items SET announced_at = now() WHERE id = ANY($1::text[])', [ids]);
  }

  /** Items per status, for the backlog gauge. */
  async counts(): Promise<Record<BatchItemStatus, number>> {
    const rows: { status: BatchItemStatus; n: string }[] = await this.db.query(
      `SELECT status, count(*) AS n FROM router.batch_items WHERE status IN ('queued', 'submitted') GROUP BY status`,
    );
    const out: Record<BatchItemStatus, number> = { queued: 0, submitted: 0, completed: 0, failed: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }
}
