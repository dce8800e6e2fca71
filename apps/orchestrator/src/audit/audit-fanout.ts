import { Inject, Injectable } from '@nestjs/common';
import { AUDIT_PEERS, AuditQueryResponseSchema, Subjects } from '@keel/contracts';
import type { AuditItem, AuditService } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, AuditLog } from './audit-log';
import type { AuditQuery, AuditRecord } from './audit-log';

/** How long `GET /v1/admin/audit` waits for each service's rows before answering without them. */
export const AUDIT_PEER_TIMEOUT_MS = 2_000;

export interface MergedAudit {
  items: AuditItem[];
  /** True when a service did not answer in time: its rows are missing. */
  partial: boolean;
  unavailable: AuditService[];
}

export const fromOwn = (r: AuditRecord): AuditItem => ({ service: 'orchestrator', ...r, actor: r.actorName ?? r.actorKeyId });

/** Newest first across services; ties by service, then by id (descending, numerically where ids are numbers). */
export function mergeAudit(lists: readonly AuditItem[][], limit: number): AuditItem[] {
  const idOrder = (a: string, b: string) => (/^\d+$/.test(a) && /^\d+$/.test(b) ? Number(BigInt(b) - BigInt(a)) : b < a ? -1 : b > a ? 1 : 0);
  return lists.flat()
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || (a.service < b.service ? -1 : a.service > b.service ? 1 : 0) || idOrder(a.id, b.id))
    .slice(0, limit);
}

/**
 * The tenant's audit log in one place: the orchestrator's own rows and those
 * of the approval service, the tool-executor and the router, asked in
 * parallel on `keel.v1.audit.query.<service>`. Each table stays in its
 * service's schema; a service that does not answer within 2 s is reported in
 * `unavailable` and the rest is answered (`partial: true`).
 */
@Injectable()
export class AuditFanout {
  constructor(@Inject(AuditLog) private readonly audit: AuditLog, @Inject(Bus) private readonly bus: Bus) {}

  async query(tenant: string, query: AuditQuery = {}): Promise<MergedAudit> {
    const limit = Math.min(query.limit ?? AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT);
    const request = { tenant, limit, ...(query.action ? { action: query.action } : {}), ...(query.since ? { since: query.since } : {}) };
    const unavailable: AuditService[] = [];
    const [own, ...peers] = await Promise.all([
      this.audit.list(tenant, { ...query, limit }).then((rows) => rows.map(fromOwn)),
      ...AUDIT_PEERS.map((service) => this.bus.request(Subjects.auditQuery(service), request, AuditQueryResponseSchema, { timeoutMs: AUDIT_PEER_TIMEOUT_MS })
        // Only the asked tenant's rows, whatever a peer answers.
        .then((res) => res.items.filter((i) => i.tenant === tenant && i.service === service))
        .catch(() => {
          unavailable.push(service);
          return [] as AuditItem[];
        })),
    ]);
    return { items: mergeAudit([own, ...peers], limit), partial: unavailable.length > 0, unavailable: unavailable.sort() };
  }
}
