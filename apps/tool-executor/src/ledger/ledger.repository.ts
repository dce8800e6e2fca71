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

/**
 * An audit row of a high-risk call (`tool_executor.audit_log`), written by the
 * same statement as the ledger change it records. `details` never holds the
 * arguments (they may carry secrets), only their hash.
 */
export interface ToolAudit {
  tenant: string;
  /** `task:<taskId>`. */
  actor: string;
  /** The call: its idempotency key. */
  target: string;
  details: Record<string, unknown>;
  traceId: string | null;
}

export type ToolAuditAction = 'tool.called' | 'tool.succeeded' | 'tool.failed' | 'tool.outcome_unknown';

const AUDIT_COLUMNS = 'tenant, actor, action, target, details, trace_id';

/** Canonical JSON (sorted keys) so the same arguments always hash alike. */
export function argsHash(args: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canon(x)])) : v;
  return createHash('sha256').update(JSON.stringify(canon(args))).digest('hex');
}

@Injectable()
export class LedgerRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /**
   * Claims the key (ON CONFLICT DO NOTHING RETURNING), or reports what the ledger already holds for it.
   * With `audit`, a `tool.called` row is inserted by the same statement, only when this call claimed the key.
   */
  async claim(key: string, row: { tenant: string; taskId: string; step: number; tool: string; argsHash: string }, audit?: ToolAudit): Promise<LedgerEntry> {
    const values = [key, row.tenant, row.taskId, row.step, row.tool, row.argsHash];
    const claimed = audit
      ? await preparedQuery(this.db, 'keel_ledger_claim_audited',
        `WITH c AS (
           INSERT INTO tool_executor.ledger (idempotency_key, tenant, task_id, step, tool, args_hash, status)
           VALUES ($1, $2, $3, $4, $5, $6, 'started') ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1
         ), a AS (
           INSERT INTO tool_executor.audit_log (${AUDIT_COLUMNS}) SELECT $7, $8, 'tool.called', $9, $10::jsonb, $11 FROM c
         ) SELECT 1 FROM c`,
        [...values, ...auditValues(audit)],
      )
      : await preparedQuery(this.db, 'keel_ledger_claim',
        `INSERT INTO tool_executor.ledger (idempotency_key, tenant, task_id, step, tool, args_hash, status)
         VALUES ($1, $2, $3, $4, $5, $6, 'started') ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1`,
        values,
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

  /** A call in doubt runs again; with `audit`, a `tool.called` row (the attempt) is inserted by the same statement. */
  async retryInDoubt(key: string, audit?: ToolAudit): Promise<void> {
    if (!audit) {
      await this.db.query('UPDATE tool_executor.ledger SET attempts = attempts + 1 WHERE idempotency_key = $1', [key]);
      return;
    }
    await this.db.query(
      `WITH u AS (UPDATE tool_executor.ledger SET attempts = attempts + 1 WHERE idempotency_key = $1 RETURNING attempts)
       INSERT INTO tool_executor.audit_log (${AUDIT_COLUMNS}) SELECT $2, $3, 'tool.called', $4, $5::jsonb || jsonb_build_object('attempt', u.attempts), $6 FROM u`,
      [key, ...auditValues(audit)],
    );
  }

  /**
   * Settles a `started` key. With `audit`, the outcome row (`tool.succeeded` or `tool.failed`) is
   * inserted by the same statement, only when this call settled the key.
   */
  async settle(key: string, outcome: { ok: boolean; result?: unknown; error?: { code: string; message: string }; durationMs: number; degraded?: Degraded }, audit?: ToolAudit): Promise<void> {
    const values = [key, outcome.ok ? 'succeeded' : 'failed', outcome.ok ? JSON.stringify(outcome.result ?? null) : null, outcome.error ? JSON.stringify(outcome.error) : null, outcome.durationMs, outcome.degraded ? JSON.stringify(outcome.degraded) : null];
    if (!audit) {
      await preparedQuery(this.db, 'keel_ledger_settle',
        `UPDATE tool_executor.ledger SET status = $2, result = $3::jsonb, error = $4::jsonb, completed_at = now(), duration_ms = $5, degraded = $6::jsonb
          WHERE idempotency_key = $1 AND status = 'started'`,
        values,
      );
      return;
    }
    await preparedQuery(this.db, 'keel_ledger_settle_audited',
      `WITH s AS (
         UPDATE tool_executor.ledger SET status = $2, result = $3::jsonb, error = $4::jsonb, completed_at = now(), duration_ms = $5, degraded = $6::jsonb
          WHERE idempotency_key = $1 AND status = 'started' RETURNING status
       ) INSERT INTO tool_executor.audit_log (${AUDIT_COLUMNS}) SELECT $7, $8, 'tool.' || s.status, $9, $10::jsonb, $11 FROM s`,
      [...values, ...auditValues(audit)],
    );
  }

  /**
   * An audit row on its own: a pure tool's call (no ledger row to share a statement with), or a call
   * refused as in doubt (`tool.outcome_unknown`, once per attempt count however often the step asks).
   */
  async audit(action: ToolAuditAction, audit: ToolAudit): Promise<void> {
    if (action === 'tool.outcome_unknown') {
      await this.db.query(
        `INSERT INTO tool_executor.audit_log (${AUDIT_COLUMNS}) SELECT $1, $2, $3, $4, $5::jsonb, $6
          WHERE NOT EXISTS (SELECT 1 FROM tool_executor.audit_log WHERE target = $4 AND action = $3 AND tenant = $1 AND details->'attempts' = $5::jsonb->'attempts')`,
        [audit.tenant, audit.actor, action, audit.target, JSON.stringify(audit.details), audit.traceId],
      );
      return;
    }
    await this.db.query(
      `INSERT INTO tool_executor.audit_log (${AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5::jsonb, $6)`,
      [audit.tenant, audit.actor, action, audit.target, JSON.stringify(audit.details), audit.traceId],
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

function auditValues(a: ToolAudit): unknown[] {
  return [a.tenant, a.actor, a.target, JSON.stringify(a.details), a.traceId];
}
