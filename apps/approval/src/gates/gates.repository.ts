import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { RiskTier } from '@keel/contracts';
import { DataSource } from '@keel/persistence';
import { currentTraceId } from '@keel/telemetry';

export const GATE_STATUSES = ['pending', 'approved', 'rejected', 'reviewed', 'expired', 'withdrawn'] as const;
export type GateStatus = (typeof GATE_STATUSES)[number];
export type GateKind = 'approve' | 'review';

export interface Gate {
  id: string;
  gateKey: string;
  tenant: string;
  taskId: string;
  step: number;
  callIndex: number;
  agent: string;
  tool: string;
  arguments: Record<string, unknown>;
  argsHash: string;
  tier: RiskTier;
  reason: string;
  kind: GateKind;
  status: GateStatus;
  decidedBy: string | null;
  comment: string | null;
  revision: number;
  publishedAt: Date | null;
  createdAt: Date;
  decidedAt: Date | null;
  /** When a pending approval gate times out (null: no deadline). */
  expiresAt: Date | null;
  /** 0: the first approvers; n: the n-th group of the agent's escalation chain. */
  escalationLevel: number;
  assignedGroup: string | null;
  /** HMAC of the decision (gateId|revision|argsHash|decision|tenant); null while pending. */
  signature: string | null;
  /** Trace context of the step that opened the gate (its resume continues the task's trace). */
  traceparent: string | null;
}

/** A row for the notifications outbox (a webhook post or a NATS message), written in the same transaction as the transition. */
export interface NewNotification {
  tenant: string;
  gateId: string | null;
  /** gate.opened, gate.escalated, gate.expired, … */
  event: string;
  channel: 'webhook' | 'nats';
  /** The URL (webhook) or subject (nats). */
  target: string;
  msgId?: string;
  payload: Record<string, unknown>;
}

export interface Notification extends NewNotification {
  id: string;
  attempts: number;
}

/** What the sweeper does with a gate past its deadline. */
export type ExpiryPlan =
  | { action: 'escalate'; level: number; group: string; timeoutMs: number; notify: (g: Gate) => NewNotification[] }
  | { action: 'expire'; reason: string; sign: (g: Gate) => string; notify: (g: Gate) => NewNotification[] };

/** What opening a gate needs: the call and the policy's answer (the rest is set by the repository). */
export type NewGate = Pick<Gate, 'tenant' | 'taskId' | 'step' | 'callIndex' | 'agent' | 'tool' | 'arguments' | 'argsHash' | 'tier' | 'reason' | 'kind'> & { traceparent?: string | null };

export interface AuditEntry {
  tenant: string;
  actor: string;
  action: string;
  gateId: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: string;
  at: Date;
  tenant: string;
  actor: string;
  action: string;
  gateId: string | null;
  details: Record<string, unknown>;
  /** The trace of the span that wrote the row (null when none was active). */
  traceId: string | null;
}

type GateRow = {
  id: string; gate_key: string; tenant: string; task_id: string; step: number; call_index: number; agent: string; tool: string;
  arguments: Record<string, unknown>; args_hash: string; tier: RiskTier; reason: string; kind: GateKind; status: GateStatus;
  decided_by: string | null; comment: string | null; revision: number; published_at: Date | null; created_at: Date; decided_at: Date | null;
  expires_at: Date | null; escalation_level: number; assigned_group: string | null; signature: string | null; traceparent: string | null;
};

type Queryable = { query: DataSource['query'] };
/** TypeORM answers UPDATE … RETURNING with [rows, rowCount] (INSERT and SELECT with rows alone). */
type UpdateResult = [GateRow[], number];

const toGate = (r: GateRow): Gate => ({
  id: r.id, gateKey: r.gate_key, tenant: r.tenant, taskId: r.task_id, step: r.step, callIndex: r.call_index, agent: r.agent, tool: r.tool,
  arguments: r.arguments, argsHash: r.args_hash, tier: r.tier, reason: r.reason, kind: r.kind, status: r.status,
  decidedBy: r.decided_by, comment: r.comment, revision: r.revision, publishedAt: r.published_at, createdAt: r.created_at, decidedAt: r.decided_at,
  expiresAt: r.expires_at, escalationLevel: r.escalation_level, assignedGroup: r.assigned_group, signature: r.signature, traceparent: r.traceparent ?? null,
});

/** `review_pending`: review records nobody has looked at yet (the review queue). */
export const LIST_FILTERS = [...GATE_STATUSES, 'review_pending'] as const;
export type ListFilter = (typeof LIST_FILTERS)[number];

export const gateKey = (taskId: string, step: number, index: number): string => `${taskId}:${step}:${index}`;

/** Raw SQL on `approval.gates` and `approval.audit_log`; every state change writes its audit row in the same transaction. */
@Injectable()
export class GatesRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** Opens the gate for a call, or returns the one an earlier check opened (a step asks again on retry and resume). */
  async open(g: NewGate, opts: { timeoutMs?: number; notify?: (g: Gate) => NewNotification[] } = {}): Promise<{ gate: Gate; created: boolean }> {
    const key = gateKey(g.taskId, g.step, g.callIndex);
    // Only an approval gate holds a call back, so only it gets a deadline.
    const timeoutMs = g.kind === 'approve' ? opts.timeoutMs ?? null : null;
    const inserted = await this.db.transaction(async (m) => {
      const rows: GateRow[] = await m.query(
        `INSERT INTO approval.gates (id, gate_key, tenant, task_id, step, call_index, agent, tool, arguments, args_hash, tier, reason, kind, status, expires_at, traceparent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, 'pending', now() + make_interval(secs => $14::float8), $15)
         ON CONFLICT (gate_key) DO NOTHING RETURNING *`,
        [randomUUID(), key, g.tenant, g.taskId, g.step, g.callIndex, g.agent, g.tool, JSON.stringify(g.arguments), g.argsHash, g.tier, g.reason, g.kind, timeoutMs === null ? null : timeoutMs / 1000, g.traceparent ?? null],
      );
      if (rows.length === 0) return undefined;
      const gate = toGate(rows[0]);
      await this.auditWith(m, { tenant: g.tenant, actor: 'system', action: `${g.kind === 'approve' ? 'gate' : 'review'}.opened`, gateId: gate.id, details: { taskId: g.taskId, step: g.step, index: g.callIndex, tool: g.tool, tier: g.tier, reason: g.reason, argsHash: g.argsHash, expiresAt: gate.expiresAt?.toISOString() ?? null } });
      await this.notifyWith(m, opts.notify?.(gate) ?? []);
      return gate;
    });
    if (inserted) return { gate: inserted, created: true };
    const rows: GateRow[] = await this.db.query('SELECT * FROM approval.gates WHERE gate_key = $1', [key]);
    return { gate: toGate(rows[0]), created: false };
  }

  /** A review gate whose call now needs approval (policy tightened between checks): it becomes a pending approval gate. */
  async escalate(gate: Gate, tier: RiskTier, reason: string, timeoutMs?: number, notify?: (g: Gate) => NewNotification[]): Promise<Gate | null> {
    return this.db.transaction(async (m) => {
      const [rows]: UpdateResult = await m.query(
        `UPDATE approval.gates SET kind = 'approve', status = 'pending', tier = $2, reason = $3, decided_by = NULL, comment = NULL, decided_at = NULL,
                signature = NULL, escalation_level = 0, assigned_group = NULL, expires_at = now() + make_interval(secs => $4::float8)
          WHERE id = $1 AND kind = 'review' RETURNING *`,
        [gate.id, tier, reason, timeoutMs === undefined ? null : timeoutMs / 1000],
      );
      if (rows.length === 0) return null;
      await this.auditWith(m, { tenant: gate.tenant, actor: 'system', action: 'gate.escalated', gateId: gate.id, details: { from: 'review', tier, reason } });
      const updated = toGate(rows[0]);
      await this.notifyWith(m, notify?.(updated) ?? []);
      return updated;
    });
  }

  /**
   * An approval covers only the arguments it was given for. When the same call
   * comes back with other arguments the gate is re-opened for them, so a
   * person decides again; `revision` gives the next decision a fresh msg id.
   */
  async reopen(gate: Gate, args: Record<string, unknown>, hash: string, timeoutMs?: number): Promise<Gate | null> {
    return this.db.transaction(async (m) => {
      const [rows]: UpdateResult = await m.query(
        `UPDATE approval.gates SET arguments = $3::jsonb, args_hash = $4, status = 'pending', decided_by = NULL, comment = NULL,
                decided_at = NULL, published_at = NULL, revision = revision + 1, signature = NULL, escalation_level = 0, assigned_group = NULL,
                expires_at = now() + make_interval(secs => $5::float8)
          WHERE id = $1 AND status = 'approved' AND args_hash = $2 RETURNING *`,
        [gate.id, gate.argsHash, JSON.stringify(args), hash, timeoutMs === undefined ? null : timeoutMs / 1000],
      );
      if (rows.length === 0) return null;
      await this.auditWith(m, {
        tenant: gate.tenant, actor: 'system', action: 'gate.reopened', gateId: gate.id,
        details: { reason: 'arguments differ from the approved ones', approvedArgsHash: gate.argsHash, argsHash: hash, approvedBy: gate.decidedBy },
      });
      return toGate(rows[0]);
    });
  }

  async get(tenant: string, id: string): Promise<Gate | null> {
    const rows: GateRow[] = await this.db.query('SELECT * FROM approval.gates WHERE id = $1 AND tenant = $2', [id, tenant]);
    return rows.length ? toGate(rows[0]) : null;
  }

  async list(tenant: string, filter: ListFilter | undefined, limit: number): Promise<Gate[]> {
    const rows: GateRow[] = filter === 'review_pending'
      ? await this.db.query(`SELECT * FROM approval.gates WHERE tenant = $1 AND status = 'pending' AND kind = 'review' ORDER BY created_at DESC, id LIMIT $2`, [tenant, limit])
      : filter
        ? await this.db.query('SELECT * FROM approval.gates WHERE tenant = $1 AND status = $2 ORDER BY created_at DESC, id LIMIT $3', [tenant, filter, limit])
        : await this.db.query('SELECT * FROM approval.gates WHERE tenant = $1 ORDER BY created_at DESC, id LIMIT $2', [tenant, limit]);
    return rows.map(toGate);
  }

  /**
   * Records a decision on a pending gate whose arguments are still the ones
   * the decider saw. Null when another decision won the race or the
   * arguments changed meanwhile (the caller re-reads to say which).
   */
  async decide(gate: Gate, d: { status: Exclude<GateStatus, 'pending'>; decidedBy: string; comment: string | null; signature: string | null; audit: AuditEntry }): Promise<Gate | null> {
    // One statement (one round trip, one implicit transaction): the decision and its audit row commit together,
    // or neither does. The signature covers the revision and arguments read by the caller: both must still be the row's.
    const rows: GateRow[] = await this.db.query(
      `WITH u AS (
         UPDATE approval.gates SET status = $4, decided_by = $5, comment = $6, decided_at = now(), signature = $8
          WHERE id = $1 AND tenant = $2 AND status = 'pending' AND args_hash = $3 AND revision = $7 RETURNING *
       ), a AS (
         INSERT INTO approval.audit_log (tenant, actor, action, gate_id, details, trace_id)
         SELECT $9, $10, $11, u.id, $12::jsonb, $13 FROM u
       ) SELECT * FROM u`,
      [gate.id, gate.tenant, gate.argsHash, d.status, d.decidedBy, d.comment, gate.revision, d.signature,
        d.audit.tenant, d.audit.actor, d.audit.action, JSON.stringify(d.audit.details ?? {}), currentTraceId() ?? null],
    );
    return rows[0] ? toGate(rows[0]) : null;
  }

  /** Outbox: decided approval gates whose `decided` event is not yet known to be on the stream. */
  async unpublished(olderThanMs: number, limit: number): Promise<Gate[]> {
    const rows: GateRow[] = await this.db.query(
      `SELECT * FROM approval.gates
        WHERE kind = 'approve' AND status IN ('approved','rejected','expired') AND published_at IS NULL AND decided_at < now() - make_interval(secs => $1)
        ORDER BY decided_at LIMIT $2`,
      [olderThanMs / 1000, limit],
    );
    return rows.map(toGate);
  }

  async markPublished(id: string, revision: number): Promise<void> {
    await this.db.query('UPDATE approval.gates SET published_at = now() WHERE id = $1 AND revision = $2 AND published_at IS NULL', [id, revision]);
  }

  /**
   * The task ended (cancelled, timed out) while gates of it were pending: each becomes `withdrawn`
   * with its audit row, in one transaction. Review records (the call already ran) stay as they are.
   */
  async withdrawForTask(taskId: string, tenant: string, reason: string): Promise<Gate[]> {
    return this.db.transaction(async (m) => {
      const [rows]: UpdateResult = await m.query(
        `UPDATE approval.gates SET status = 'withdrawn', decided_by = 'system', comment = $3, decided_at = now()
          WHERE task_id = $1 AND tenant = $2 AND status = 'pending' AND kind = 'approve' RETURNING *`,
        [taskId, tenant, reason],
      );
      const gates = rows.map(toGate);
      for (const g of gates) {
        await this.auditWith(m, { tenant, actor: 'system', action: 'gate.withdrawn', gateId: g.id, details: { reason, argsHash: g.argsHash, revision: g.revision } });
      }
      return gates;
    });
  }

  /**
   * Pending approval gates past their deadline, locked with SKIP LOCKED so two
   * replicas sweeping at once never act on the same gate: each is escalated
   * to the next group or expired, with its audit row and outbox rows, in one
   * transaction. Returns the gates as they are now.
   */
  async sweepExpired(limit: number, plan: (g: Gate) => ExpiryPlan): Promise<{ gate: Gate; plan: ExpiryPlan }[]> {
    return this.db.transaction(async (m) => {
      const due: GateRow[] = await m.query(
        `SELECT * FROM approval.gates WHERE status = 'pending' AND kind = 'approve' AND expires_at IS NOT NULL AND expires_at <= now()
          ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      const done: { gate: Gate; plan: ExpiryPlan }[] = [];
      for (const row of due) {
        const gate = toGate(row);
        const p = plan(gate);
        let updated: Gate;
        if (p.action === 'escalate') {
          const [rows]: UpdateResult = await m.query(
            `UPDATE approval.gates SET escalation_level = $2, assigned_group = $3, expires_at = now() + make_interval(secs => $4::float8)
              WHERE id = $1 RETURNING *`,
            [gate.id, p.level, p.group, p.timeoutMs / 1000],
          );
          updated = toGate(rows[0]);
          await this.auditWith(m, {
            tenant: gate.tenant, actor: 'system', action: 'gate.escalated_to', gateId: gate.id,
            details: { group: p.group, level: p.level, fromGroup: gate.assignedGroup, expiresAt: updated.expiresAt?.toISOString(), argsHash: gate.argsHash, revision: gate.revision },
          });
        } else {
          const signature = p.sign(gate);
          const [rows]: UpdateResult = await m.query(
            `UPDATE approval.gates SET status = 'expired', decided_by = 'system', comment = $2, decided_at = now(), signature = $3
              WHERE id = $1 RETURNING *`,
            [gate.id, p.reason, signature],
          );
          updated = toGate(rows[0]);
          await this.auditWith(m, {
            tenant: gate.tenant, actor: 'system', action: 'gate.expired', gateId: gate.id,
            details: { reason: p.reason, level: gate.escalationLevel, group: gate.assignedGroup, argsHash: gate.argsHash, revision: gate.revision },
          });
        }
        await this.notifyWith(m, p.notify(updated));
        done.push({ gate: updated, plan: p });
      }
      return done;
    });
  }

  /**
   * Claims due outbox rows for `leaseMs` (SKIP LOCKED, so replicas never
   * claim the same row): a claimed row is not due again until the lease ends,
   * so a sender that dies mid-send is retried by another replica.
   */
  async claimNotifications(limit: number, leaseMs: number): Promise<Notification[]> {
    const [rows]: [{ id: string; tenant: string; gate_id: string | null; event: string; channel: 'webhook' | 'nats'; target: string; msg_id: string | null; payload: Record<string, unknown>; attempts: number }[], number] = await this.db.query(
      `UPDATE approval.notifications SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2::float8)
        WHERE id IN (SELECT id FROM approval.notifications WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING *`,
      [limit, leaseMs / 1000],
    );
    return rows.map((r) => ({ id: r.id, tenant: r.tenant, gateId: r.gate_id, event: r.event, channel: r.channel, target: r.target, ...(r.msg_id ? { msgId: r.msg_id } : {}), payload: r.payload, attempts: r.attempts }));
  }

  async notificationSent(id: string): Promise<void> {
    await this.db.query('UPDATE approval.notifications SET sent_at = now(), last_error = NULL WHERE id = $1', [id]);
  }

  /** A failed attempt: retried after `retryInMs`, or given up (`retryInMs` null). */
  async notificationFailed(id: string, error: string, retryInMs: number | null): Promise<void> {
    await this.db.query(
      retryInMs === null
        ? 'UPDATE approval.notifications SET failed_at = now(), last_error = $2 WHERE id = $1'
        : 'UPDATE approval.notifications SET next_attempt_at = now() + make_interval(secs => $3::float8), last_error = $2 WHERE id = $1',
      retryInMs === null ? [id, error.slice(0, 1000)] : [id, error.slice(0, 1000), retryInMs / 1000],
    );
  }

  async notifications(gateId: string): Promise<(Notification & { sentAt: Date | null; failedAt: Date | null; lastError: string | null })[]> {
    const rows: { id: string; tenant: string; gate_id: string | null; event: string; channel: 'webhook' | 'nats'; target: string; msg_id: string | null; payload: Record<string, unknown>; attempts: number; sent_at: Date | null; failed_at: Date | null; last_error: string | null }[] =
      await this.db.query('SELECT * FROM approval.notifications WHERE gate_id = $1 ORDER BY id', [gateId]);
    return rows.map((r) => ({ id: r.id, tenant: r.tenant, gateId: r.gate_id, event: r.event, channel: r.channel, target: r.target, payload: r.payload, attempts: r.attempts, sentAt: r.sent_at, failedAt: r.failed_at, lastError: r.last_error }));
  }

  async audit(e: AuditEntry): Promise<void> {
    await this.auditWith(this.db, e);
  }

  async auditTrail(gateId: string): Promise<AuditRow[]> {
    const rows: { id: string; at: Date; tenant: string; actor: string; action: string; gate_id: string | null; details: Record<string, unknown>; trace_id: string | null }[] =
      await this.db.query('SELECT * FROM approval.audit_log WHERE gate_id = $1 ORDER BY id', [gateId]);
    return rows.map((r) => ({ id: r.id, at: r.at, tenant: r.tenant, actor: r.actor, action: r.action, gateId: r.gate_id, details: r.details, traceId: r.trace_id }));
  }

  /** A tenant's audit rows, newest first (`keel.v1.audit.query.approval`). */
  async auditOf(tenant: string, q: { action?: string; since?: string; limit: number }): Promise<AuditRow[]> {
    const params: unknown[] = [tenant];
    let where = 'tenant = $1';
    if (q.action) where += ` AND action = $${params.push(q.action)}`;
    if (q.since) where += ` AND at >= $${params.push(q.since)}`;
    const rows: { id: string; at: Date; tenant: string; actor: string; action: string; gate_id: string | null; details: Record<string, unknown>; trace_id: string | null }[] =
      await this.db.query(`SELECT id::text, at, tenant, actor, action, gate_id, details, trace_id FROM approval.audit_log WHERE ${where} ORDER BY at DESC, id DESC LIMIT $${params.push(q.limit)}`, params);
    return rows.map((r) => ({ id: r.id, at: r.at, tenant: r.tenant, actor: r.actor, action: r.action, gateId: r.gate_id, details: r.details, traceId: r.trace_id }));
  }

  private async notifyWith(q: Queryable, rows: NewNotification[]): Promise<void> {
    for (const n of rows) {
      await q.query(
        'INSERT INTO approval.notifications (tenant, gate_id, event, channel, target, msg_id, payload) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)',
        [n.tenant, n.gateId, n.event, n.channel, n.target, n.msgId ?? null, JSON.stringify(n.payload)],
      );
    }
  }

  private async auditWith(q: Queryable, e: AuditEntry): Promise<void> {
    await q.query(
      'INSERT INTO approval.audit_log (tenant, actor, action, gate_id, details, trace_id) VALUES ($1, $2, $3, $4, $5::jsonb, $6)',
      [e.tenant, e.actor, e.action, e.gateId, JSON.stringify(e.details ?? {}), currentTraceId() ?? null],
    );
  }
}
