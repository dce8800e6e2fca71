import { KeelError } from '@keel/contracts';
import type { AuditItem } from '@keel/contracts';
import type { Bus } from '@keel/messaging';
import type { AuditLog, AuditRecord } from './audit-log';
import { AuditFanout, mergeAudit } from './audit-fanout';

const item = (service: AuditItem['service'], id: string, at: string, tenant = 'acme'): AuditItem =>
  ({ service, id, tenant, actor: 'x', actorKeyId: null, actorName: null, action: 'a.b', target: null, details: {}, traceId: null, at });

describe('AuditFanout', () => {
  const own: AuditRecord = { id: '7', tenant: 'acme', actorKeyId: 'k1', actorName: 'root', action: 'api_key.created', target: 'k2', details: {}, traceId: 't', at: '2026-01-01T00:00:03.000Z' };
  const log = { list: jest.fn(async () => [own]) } as unknown as AuditLog;

  it('merges newest first across services, applies the limit after the merge and keeps only the tenant\'s rows', async () => {
    const asked: { subject: string; payload: unknown }[] = [];
    const bus = {
      request: async (subject: string, payload: unknown) => {
        asked.push({ subject, payload });
        if (subject.endsWith('.approval')) return { items: [item('approval', '1', '2026-01-01T00:00:04.000Z'), item('approval', '2', '2026-01-01T00:00:01.000Z')] };
        if (subject.endsWith('.router')) return { items: [item('router', '3', '2026-01-01T00:00:02.000Z'), item('router', '4', '2026-01-01T00:00:05.000Z', 'other')] };
        return { items: [item('tool-executor', '9', '2026-01-01T00:00:02.000Z')] };
      },
    } as unknown as Bus;
    const res = await new AuditFanout(log, bus).query('acme', { limit: 4, action: 'a.b' });
    expect(asked.map((a) => a.subject).sort()).toEqual(['keel.v1.audit.query.approval', 'keel.v1.audit.query.router', 'keel.v1.audit.query.tool-executor']);
    expect(asked[0].payload).toEqual({ tenant: 'acme', limit: 4, action: 'a.b' });
    expect(res.partial).toBe(false);
    expect(res.unavailable).toEqual([]);
    expect(res.items.map((i) => `${i.service}:${i.id}`)).toEqual(['approval:1', 'orchestrator:7', 'router:3', 'tool-executor:9']);
    // The orchestrator's own rows keep their fields and gain service and actor.
    expect(res.items[1]).toEqual({ ...own, service: 'orchestrator', actor: 'root' });
  });

  it('answers without a service that does not reply, saying so', async () => {
    const bus = {
      request: async (subject: string) => {
        if (subject.endsWith('.tool-executor')) throw new KeelError('timeout', 'no reply within 2000 ms', { retryable: true });
        if (subject.endsWith('.router')) throw new KeelError('unavailable', 'no responders', { retryable: true });
        return { items: [] };
      },
    } as unknown as Bus;
    const res = await new AuditFanout(log, bus).query('acme');
    expect(res).toMatchObject({ partial: true, unavailable: ['router', 'tool-executor'] });
    expect(res.items.map((i) => i.service)).toEqual(['orchestrator']);
  });

  it('orders same-instant rows by service, then by id numerically', () => {
    const at = '2026-01-01T00:00:00.000Z';
    expect(mergeAudit([[item('router', '9', at), item('router', '10', at)], [item('approval', '2', at)]], 10).map((i) => `${i.service}:${i.id}`)).toEqual(['approval:2', 'router:10', 'router:9']);
  });
});
