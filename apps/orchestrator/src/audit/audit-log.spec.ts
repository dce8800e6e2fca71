import { AuditQuerySchema } from './audit-log';

describe('AuditQuerySchema', () => {
  it('parses the query string: action, since and a limit of 1..500', () => {
    expect(AuditQuerySchema.parse({})).toEqual({});
    expect(AuditQuerySchema.parse({ action: 'api_key.created', since: '2025-01-31T00:00:00Z', limit: '20' })).toEqual({ action: 'api_key.created', since: '2025-01-31T00:00:00Z', limit: 20 });
    expect(AuditQuerySchema.parse({ limit: '500' }).limit).toBe(500);
  });

  it('refuses limits outside 1..500, bad dates, odd actions and unknown parameters', () => {
    for (const q of [{ limit: '0' }, { limit: '501' }, { limit: '-1' }, { limit: 'ten' }, { limit: '1.5' }, { since: 'yesterday' }, { action: "x'; DROP TABLE" }, { action: 'created' }, { tenant: 'other' }, { action: ['a.b', 'c.d'] }]) {
      expect({ q, ok: AuditQuerySchema.safeParse(q).success }).toEqual({ q, ok: false });
    }
    expect(AuditQuerySchema.safeParse({ limit: '501' }).error!.issues[0].message).toMatch(/at most 500/);
  });
});
