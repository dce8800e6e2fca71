import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from '@keel/persistence';

export type LedgerEntry =
  | { state: 'claimed' }
  | { state: 'settled'; ok: boolean; result: unknown; error: { code: string; message: string } | null; argsHash: string; durationMs: number }
  | { state: 'in_doubt'; argsHash: string; attempts: number };

/** Canonical JSON (sorted keys) so the same arguments always hash alike. */
export function argsHash(args: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canon(x)])) : v;
  return createHash('sha256').update(JSON.stringify(canon(args))).digest('hex');
}

@Injectable()
export class LedgerRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** Claims the key (ON CONFLICT DO NOTHING RETURNING), or reports what the ledger already holds for it. */
  async claim(key: string, row: { tenant: string; taskId: string; step: number; tool: string; argsHash: string }): Promise<LedgerEntry> {
    const claimed: unknown[] = await this.db.query(
      `INSERT INTO tool_executor.ledger (idempotency_key, tenant, task_id, step, tool, args_hash, status)
       VALUES ($1, $2, $3, $4, $5, $6, 'started') ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1`,
      [key, row.tenant, row.taskId, row.step, row.tool, row.argsHash],
    );
    if (claimed.length) return { state: 'claimed' };
    const rows: { status: string; result: unknown; error: { code: string; message: string } | null; args_hash: string; attempts: number; duration_ms: number | null }[] =
      await this.db.query('SELECT status, result, error, args_hash, attempts, duration_ms FROM tool_executor.ledger WHERE idempotency_key = $1', [key]);
    const r = rows[0];
    if (r.status === 'started') return { state: 'in_doubt', argsHash: r.args_hash, attempts: r.attempts };
    return { state: 'settled', ok: r.status === 'succeeded', result: r.result, error: r.error, argsHash: r.args_hash, durationMs: r.duration_ms ?? 0 };
  }

  async retryInDoubt(key: string): Promise<void> {
    await this.db.query('UPDATE tool_executor.ledger SET attempts = attempts + 1 WHERE idempotency_key = $1', [key]);
  }

  async settle(key: string, outcome: { ok: boolean; result?: unknown; error?: { code: string; message: string }; durationMs: number }): Promise<void> {
    await this.db.query(
      `UPDATE tool_executor.ledger SET status = $2, result = $3::jsonb, error = $4::jsonb, completed_at = now(), duration_ms = $5
        WHERE idempotency_key = $1 AND status = 'started'`,
      [key, outcome.ok ? 'succeeded' : 'failed', outcome.ok ? JSON.stringify(outcome.result ?? null) : null, outcome.error ? JSON.stringify(outcome.error) : null, outcome.durationMs],
    );
  }
}
