import { CreateApiKeySchema, KEY_ID, MAX_KEY_LIFETIME_DAYS, resolveExpiry, RotateApiKeySchema } from './api-keys.schemas';

const DAY = 86_400_000;
const inDays = (d: number) => new Date(Date.now() + d * DAY).toISOString();

describe('CreateApiKeySchema', () => {
  it('accepts a role and a name, with an optional tenant and expiry', () => {
    expect(CreateApiKeySchema.parse({ role: 'submitter', name: 'ci' })).toEqual({ role: 'submitter', name: 'ci' });
    expect(CreateApiKeySchema.safeParse({ tenant: 'default', role: 'viewer', name: 'dash', expiresInDays: 30 }).success).toBe(true);
    expect(CreateApiKeySchema.safeParse({ role: 'approver', name: 'ops', expiresAt: inDays(10) }).success).toBe(true);
    for (const role of ['admin', 'submitter', 'approver', 'viewer']) expect(CreateApiKeySchema.safeParse({ role, name: 'x' }).success).toBe(true);
  });

  it('refuses unknown roles, unknown fields and names outside 1-100 characters', () => {
    const bad = [
      { role: 'owner', name: 'x' },
      { role: 'platform', name: 'x' },
      { name: 'x' },
      { role: 'viewer' },
      { role: 'viewer', name: '' },
      { role: 'viewer', name: '   ' },
      { role: 'viewer', name: 'x'.repeat(101) },
      { role: 'viewer', name: 'x', key: 'keel_mine' },
      { role: 'viewer', name: 'x', tenant: '' },
    ];
    for (const body of bad) expect({ body, ok: CreateApiKeySchema.safeParse(body).success }).toEqual({ body, ok: false });
    expect(CreateApiKeySchema.safeParse({ role: 'viewer', name: 'x'.repeat(100) }).success).toBe(true);
  });

  it('refuses an expiry in the past, beyond two years, not a date, or given twice', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ expiresAt: new Date(Date.now() - 1000).toISOString() }, /not in the future/],
      [{ expiresAt: inDays(MAX_KEY_LIFETIME_DAYS + 1) }, /two years/],
      [{ expiresAt: 'tomorrow' }, /ISO 8601/],
      [{ expiresAt: '2030-01-01T00:00:00' }, /ISO 8601/], // no time zone
      [{ expiresInDays: 0 }, /at least 1/],
      [{ expiresInDays: MAX_KEY_LIFETIME_DAYS + 1 }, /at most 730/],
      [{ expiresInDays: 1.5 }, /whole number/],
      [{ expiresInDays: '30' }, /whole number/],
      [{ expiresInDays: 30, expiresAt: inDays(10) }, /not both/],
    ];
    for (const [extra, message] of cases) {
      const r = CreateApiKeySchema.safeParse({ role: 'viewer', name: 'x', ...extra });
      expect(r.success).toBe(false);
      expect(r.error!.issues.map((i) => i.message).join('; ')).toMatch(message);
    }
    expect(CreateApiKeySchema.safeParse({ role: 'viewer', name: 'x', expiresInDays: MAX_KEY_LIFETIME_DAYS }).success).toBe(true);
    expect(CreateApiKeySchema.safeParse({ role: 'viewer', name: 'x', expiresAt: inDays(MAX_KEY_LIFETIME_DAYS - 1) }).success).toBe(true);
  });
});

describe('RotateApiKeySchema', () => {
  it('takes an optional grace period of 0..86400 whole seconds and nothing unknown', () => {
    expect(RotateApiKeySchema.parse({})).toEqual({});
    expect(RotateApiKeySchema.parse({ graceSeconds: 0 })).toEqual({ graceSeconds: 0 });
    expect(RotateApiKeySchema.parse({ graceSeconds: 86_400 })).toEqual({ graceSeconds: 86_400 });
    for (const body of [{ graceSeconds: -1 }, { graceSeconds: 86_401 }, { graceSeconds: 1.5 }, { graceSeconds: '10' }, { role: 'admin' }, { name: 'renamed' }]) {
      expect({ body, ok: RotateApiKeySchema.safeParse(body).success }).toEqual({ body, ok: false });
    }
    expect(RotateApiKeySchema.safeParse({ expiresInDays: 1000 }).success).toBe(false);
  });
});

describe('resolveExpiry', () => {
  const now = new Date('2025-06-01T00:00:00Z');
  it('turns days into an instant, keeps none as none, and checks the bounds against now', () => {
    expect(resolveExpiry({}, now)).toEqual({ expiresAt: undefined });
    expect(resolveExpiry({ expiresInDays: 2 }, now)).toEqual({ expiresAt: new Date('2025-06-03T00:00:00Z') });
    expect(resolveExpiry({ expiresAt: '2025-06-01T02:00:00+02:00' }, now)).toEqual({ error: expect.stringMatching(/not in the future/) });
    expect(resolveExpiry({ expiresAt: '2025-06-01T00:00:01Z' }, now)).toEqual({ expiresAt: new Date('2025-06-01T00:00:01Z') });
    expect(resolveExpiry({ expiresAt: '2027-06-01T00:00:00Z' }, now)).toEqual({ expiresAt: new Date('2027-06-01T00:00:00Z') }); // 730 days exactly
    expect(resolveExpiry({ expiresAt: '2027-06-01T00:00:01Z' }, now)).toEqual({ error: expect.stringMatching(/two years/) });
  });
});

describe('KEY_ID', () => {
  it('matches UUIDs only', () => {
    expect(KEY_ID.test('0b8e2c1a-3f4d-4e5f-8a9b-0c1d2e3f4a5b')).toBe(true);
    expect(KEY_ID.test("1' OR '1'='1")).toBe(false);
    expect(KEY_ID.test('keel_abcd1234')).toBe(false);
  });
});
