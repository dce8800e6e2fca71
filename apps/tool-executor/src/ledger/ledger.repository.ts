import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, preparedQuery } from '@keel/persistence';

export interface Degraded {
  rung: 'alternate_tool' | 'cached_result';
  tool?: string;
  ageMs?: number;
  cause: { code: string; message: string };
}

export type LedgerEntry =
  | { state: 'claimed' }
  | { state: 'settled'; ok: boolean; result: unknown; error: { code: string; message: string } | null; argsHash: string; durationMs: number; degraded: Degraded | null }
  | { state: 'in_doubt'; argsHash: string; attempts: number };

/** A settled call of a recorded task (replay). */
export interface RecordedCall {
  tool: string;
  argsHash: string;
  ok: boolean;
  result: unknown;
  error: { code: string; message: string } | null;
  durationMs: number;
  degraded: Degraded | null;
}

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
    const claimed = await preparedQuery(this.db, 'keel_ledger_claim',
      `INSERT INTO tool_executor.ledger (idempotency_key, tenant, task_id, step, tool, args_hash, status)
       VALUES ($1, $2, $3, $4, $5, $6, 'started') ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1`,
      [key, row.tenant, row.taskId, row.step, row.tool, row.argsHash],
    );
    if (claimed.length) return { state: 'claimed' };
    const rows: { status: string; result: unknown; error: { code: string; message: string } | null; args_hash: string; attempts: number; duration_ms: number | null; degraded: Degraded | null }[] =
      await this.db.query('SELECT status, result, error, args_hash, attempts, duration_ms, degraded FROM tool_executor.ledger WHERE idempotency_key = $1', [key]);
    const r = rows[0];
    if (r.status === 'started') return { state: 'in_doubt', argsHash: r.args_hash, attempts: r.attempts };
    return { state: 'settled', ok: r.status === 'succeeded', result: r.result, error: r.error, argsHash: r.args_hash, durationMs: r.duration_ms ?? 0, degraded: r.degraded };
  }

  /**
   * Replay (docs/replay.md): the settled row of a recorded call, for the replay's call at the same
   * position. Only the caller's tenant; a row still `started` (outcome unknown) is not an answer.
   */
  async recorded(key: string, tenant: string): Promise<RecordedCall | null> {
    const rows: { tool: string; status: string; result: unknown; error: { code: string; message: string } | null; args_hash: string; duration_ms: number | null; degraded: Degraded | null }[] =
      await this.db.query(
        `SELECT tool, status, result, error, args_hash, duration_ms, degraded FROM tool_executor.ledger
          WHERE idempotency_key = $1 AND tenant = $2 AND status IN ('succeeded', 'failed')`,
        [key, tenant],
      );
    const r = rows[0];
    if (!r) return null;
    return { tool: r.tool, argsHash: r.args_hash, ok: r.status === 'succeeded', result: r.result, error: r.error, durationMs: r.duration_ms ?? 0, degraded: r.degraded };
  }

  async retryInDoubt(key: string): Promise<void> {
    await this.db.query('UPDATE tool_executor.ledger SET attempts = attempts + 1 WHERE idempotency_key = $1', [key]);
  }

  async settle(key: string, outcome: { ok: boolean; result?: unknown; error?: { code: string; message: string }; durationMs: number; degraded?: Degraded }): Promise<void> {
    await preparedQuery(this.db, 'keel_ledger_settle',
      `UPDATE tool_executor.ledger SET status = $2, result = $3::jsonb, error = $4::jsonb, completed_at = now(), duration_ms = $5, degraded = $6::jsonb
        WHERE idempotency_key = $1 AND status = 'started'`,
      [key, outcome.ok ? 'succeeded' : 'failed', outcome.ok ? JSON.stringify(outcome.result ?? null) : null, outcome.error ? JSON.stringify(outcome.error) : null, outcome.durationMs, outcome.degraded ? JSON.stringify(outcome.degraded) : null],
    );
  }

  /** Rung 2 of the ladder: remember a good result (only for agents that allow a cached stand-in). */
  async remember(tenant: string, tool: string, hash: string, result: unknown): Promise<void> {
    await this.db.query(
      `INSERT INTO tool_executor.result_cache (tenant, tool, args_hash, result) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (tenant, tool, args_hash) DO UPDATE SET result = EXCLUDED.result, stored_at = now()`,
      [tenant, tool, hash, JSON.stringify(result ?? null)],
    );
  }

  async recall(tenant: string, tool: string, hash: string, maxAgeMs: number): Promise<{ result: unknown; ageMs: number } | null> {
    const rows: { result: unknown; age_ms: number }[] = await this.db.query(
      `SELECT result, extract(epoch from now() - stored_at) * 1000 AS age_ms FROM tool_executor.result_cache
        WHERE tenant = $1 AND tool = $2 AND args_hash = $3 AND stored_at > now() - ($4::bigint * interval '1 millisecond')`,
      [tenant, tool, hash, maxAgeMs],
    );
    return rows[0] ? { result: rows[0].result, ageMs: Math.round(Number(rows[0].age_ms)) } : null;
  }
}
