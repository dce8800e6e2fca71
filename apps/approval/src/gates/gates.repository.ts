import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { RiskTier } from '@keel/contracts';
import { DataSource } from '@keel/persistence';

export const GATE_STATUSES = ['pending', 'approved', 'rejected', 'reviewed'] as const;
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
}

/** What opening a gate needs: the call and the policy's answer (the rest is set by the repository). */
export type NewGate = Pick<Gate, 'tenant' | 'taskId' | 'step' | 'callIndex' | 'agent' | 'tool' | 'arguments' | 'argsHash' | 'tier' | 'reason' | 'kind'>;

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
}

type GateRow = {
  id: string; gate_key: string; tenant: string; task_id: string; step: number; call_index: number; agent: string; tool: string;
  arguments: Record<string, unknown>; args_hash: string; tier: RiskTier; reason: string; kind: GateKind; status: GateStatus;
  decided_by: string | null; comment: string | null; revision: number; published_at: Date | null; created_at: Date; decided_at: Date | null;
};

type Queryable = { query: DataSource['query'] };
/** TypeORM answers UPDATE … RETURNING with [rows, rowCount] (INSERT and SELECT with rows alone). */
type UpdateResult = [GateRow[], number];

const toGate = (r: GateRow): Gate => ({
  id: r.id, gateKey: r.gate_key, tenant: r.tenant, taskId: r.task_id, step: r.step, callIndex: r.call_index, agent: r.agent, tool: r.tool,
  arguments: r.arguments, argsHash: r.args_hash, tier: r.tier, reason: r.reason, kind: r.kind, status: r.status,
  decidedBy: r.decided_by, comment: r.comment, revision: r.revision, publishedAt: r.published_at, createdAt: r.created_at, decidedAt: r.decided_at,
});

export const gateKey = (taskId: string, step: number, index: number): string => `${taskId}:${step}:${index}`;

/** Raw SQL on `approval.gates` and `approval.audit_log`; every state change writes its audit row in the same transaction. */
@Injectable()
export class GatesRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** Opens the gate for a call, or returns the one an earlier check opened (a step asks again on retry and resume). */
  async open(g: NewGate): Promise<{ gate: Gate; created: boolean }> {
    const key = gateKey(g.taskId, g.step, g.callIndex);
    const inserted = await this.db.transaction(async (m) => {
      const rows: GateRow[] = await m.query(
        `INSERT INTO approval.gates (id, gate_key, tenant, task_id, step, call_index, agent, tool, arguments, args_hash, tier, reason, kind, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, 'pending')
         ON CONFLICT (gate_key) DO NOTHING RETURNING *`,
        [randomUUID(), key, g.tenant, g.taskId, g.step, g.callIndex, g.agent, g.tool, JSON.stringify(g.arguments), g.argsHash, g.tier, g.reason, g.kind],
      );
      if (rows.length === 0) return undefined;
      const gate = toGate(rows[0]);
      await this.auditWith(m, { tenant: g.tenant, actor: 'system', action: `${g.kind === 'approve' ? 'gate' : 'review'}.opened`, gateId: gate.id, details: { taskId: g.taskId, step: g.step, index: g.callIndex, tool: g.tool, tier: g.tier, reason: g.reason, argsHash: g.argsHash } });
      return gate;
    });
    if (inserted) return { gate: inserted, created: true };
    const rows: GateRow[] = await this.db.query('SELECT * FROM approval.gates WHERE gate_key = $1', [key]);
    return { gate: toGate(rows[0]), created: false };
  }

  /** A review gate whose call now needs approval (policy tightened between checks): it becomes a pending approval gate. */
  async escalate(gate: Gate, tier: RiskTier, reason: string): Promise<Gate | null> {
    return this.db.transaction(async (m) => {
      const [rows]: UpdateResult = await m.query(
        `UPDATE approval.gates SET kind = 'approve', status = 'pending', tier = $2, reason = $3, decided_by = NULL, comment = NULL, decided_at = NULL
          WHERE id = $1 AND kind = 'review' RETURNING *`,
        [gate.id, tier, reason],
      );
      if (rows.length === 0) return null;
      await this.auditWith(m, { tenant: gate.tenant, actor: 'system', action: 'gate.escalated', gateId: gate.id, details: { from: 'review', tier, reason } });
      return toGate(rows[0]);
    });
  }

  /**
   * An approval covers only the arguments it was given for. When the same call
   * comes back with other arguments the gate is re-opened for them, so a
   * person decides again; `revision` gives the next decision a fresh msg id.
   */
  async reopen(gate: Gate, args: Record<string, unknown>, hash: string): Promise<Gate | null> {
    return this.db.transaction(async (m) => {
      const [rows]: UpdateResult = await m.query(
        `UPDATE approval.gates SET arguments = $3::jsonb, args_hash = $4, status = 'pending', decided_by = NULL, comment = NULL,
                decided_at = NULL, published_at = NULL, revision = revision + 1
          WHERE id = $1 AND status = 'approved' AND args_hash = $2 RETURNING *`,
        [gate.id, gate.argsHash, JSON.stringify(args), hash],
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

  async list(tenant: string, status: GateStatus | undefined, limit: number): Promise<Gate[]> {
    const rows: GateRow[] = status
      ? await this.db.query('SELECT * FROM approval.gates WHERE tenant = $1 AND status = $2 ORDER BY created_at DESC, id LIMIT $3', [tenant, status, limit])
      : await this.db.query('SELECT * FROM approval.gates WHERE tenant = $1 ORDER BY created_at DESC, id LIMIT $2', [tenant, limit]);
    return rows.map(toGate);
  }

  /**
   * Records a decision on a pending gate whose arguments are still the ones
   * the decider saw. Null when another decision won the race or the
   * arguments changed meanwhile (the caller re-reads to say which).
   */
  async decide(gate: Gate, d: { status: Exclude<GateStatus, 'pending'>; decidedBy: string; comment: string | null; audit: AuditEntry }): Promise<Gate | null> {
    return this.db.transaction(async (m) => {
      const [rows]: UpdateResult = await m.query(
        `UPDATE approval.gates SET status = $4, decided_by = $5, comment = $6, decided_at = now()
          WHERE id = $1 AND tenant = $2 AND status = 'pending' AND args_hash = $3 RETURNING *`,
        [gate.id, gate.tenant, gate.argsHash, d.status, d.decidedBy, d.comment],
      );
      if (rows.length === 0) return null;
      await this.auditWith(m, d.audit);
      return toGate(rows[0]);
    });
  }

  /** Outbox: decided approval gates whose `decided` event is not yet known to be on the stream. */
  async unpublished(olderThanMs: number, limit: number): Promise<Gate[]> {
    const rows: GateRow[] = await this.db.query(
      `SELECT * FROM approval.gates
        WHERE kind = 'approve' AND status IN ('approved','rejected') AND published_at IS NULL AND decided_at < now() - make_interval(secs => $1)
        ORDER BY decided_at LIMIT $2`,
      [olderThanMs / 1000, limit],
    );
    return rows.map(toGate);
  }

  async markPublished(id: string, revision: number): Promise<void> {
    await this.db.query('UPDATE approval.gates SET published_at = now() WHERE id = $1 AND revision = $2 AND published_at IS NULL', [id, revision]);
  }

  async audit(e: AuditEntry): Promise<void> {
    await this.auditWith(this.db, e);
  }

  async auditTrail(gateId: string): Promise<AuditRow[]> {
    const rows: { id: string; at: Date; tenant: string; actor: string; action: string; gate_id: string | null; details: Record<string, unknown> }[] =
      await this.db.query('SELECT * FROM approval.audit_log WHERE gate_id = $1 ORDER BY id', [gateId]);
    return rows.map((r) => ({ id: r.id, at: r.at, tenant: r.tenant, actor: r.actor, action: r.action, gateId: r.gate_id, details: r.details }));
  }

  private async auditWith(q: Queryable, e: AuditEntry): Promise<void> {
    await q.query(
      'INSERT INTO approval.audit_log (tenant, actor, action, gate_id, details) VALUES ($1, $2, $3, $4, $5::jsonb)',
      [e.tenant, e.actor, e.action, e.gateId, JSON.stringify(e.details ?? {})],
    );
  }
}
