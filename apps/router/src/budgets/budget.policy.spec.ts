import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentFile } from '@keel/config';
import {
  applyOverrides,
  BudgetConfigError,
  checkPerRequestCap,
  loadBudgetsConfig,
  NO_BUDGETS,
  onBudgetExhausted,
  parseAgentBudgets,
  parseBudgetsConfig,
  periodsAt,
  resolveBudgets,
  scopeKey,
} from './budget.policy';

const NOW = new Date('2026-11-24T23:59:59.999Z');

const YAML = `
tenants:
  acme: {daily: {limitUsd: 10}, monthly: {limitUsd: 200}, perRequestCapUsd: 0.5}
  "*": {daily: {limitUsd: 1}}
users:
  acme:
    bob: {daily: {limitUsd: 2}, onExceed: downgrade, downgradeModel: openai/gpt-4o-mini, perRequestCapUsd: 0.2}
agents:
  acme:
    demo: {monthly: {limitUsd: 50}}
    "*": {daily: {limitUsd: 3}}
`;

describe('budget configuration', () => {
  it('parses YAML with defaults, and JSON too', () => {
    const config = parseBudgetsConfig(YAML, 'budgets.yaml');
    expect(config.tenants.acme).toEqual({ daily: { limitUsd: 10 }, monthly: { limitUsd: 200 }, perRequestCapUsd: 0.5, onExceed: 'reject' });
    expect(config.users.acme.bob.onExceed).toBe('downgrade');
    expect(parseBudgetsConfig(JSON.stringify({ tenants: { t: { daily: { limitUsd: 1 } } } }), 'b.json').tenants.t.daily).toEqual({ limitUsd: 1 });
    expect(parseBudgetsConfig('', 'empty.yaml')).toEqual(NO_BUDGETS);
  });

  it('refuses bad files, naming the field', () => {
    expect(() => parseBudgetsConfig('tenants: {acme: {daily: {limitUsd: -1}}}', 'b.yaml')).toThrow(/b\.yaml: invalid budgets: tenants\.acme\.daily\.limitUsd/);
    expect(() => parseBudgetsConfig('tenants: {acme: {onExceed: downgrade}}', 'b.yaml')).toThrow(/tenants\.acme\.downgradeModel: onExceed: downgrade needs a downgradeModel/);
    expect(() => parseBudgetsConfig('tenants: {acme: {dialy: {limitUsd: 1}}}', 'b.yaml')).toThrow(BudgetConfigError);
    expect(() => parseBudgetsConfig('teams: {}', 'b.yaml')).toThrow(/teams/);
    expect(() => parseBudgetsConfig('tenants: [', 'b.yaml')).toThrow(/not valid YAML/);
  });

  it('loads KEEL_BUDGETS_FILE, and no file means no budgets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-budgets-'));
    const path = join(dir, 'budgets.yaml');
    writeFileSync(path, YAML);
    expect(loadBudgetsConfig(path).tenants.acme.daily).toEqual({ limitUsd: 10 });
    expect(loadBudgetsConfig(undefined)).toBe(NO_BUDGETS);
    expect(() => loadBudgetsConfig(join(dir, 'missing.yaml'))).toThrow(/cannot read budgets file/);
  });

  it("reads an agent file's budgets: key", () => {
    const agent = parseAgentFile('a.yaml', 'name: pricey\nmodel: openai/gpt-4o\nbudgets: {daily: {limitUsd: 5}, onExceed: downgrade, downgradeModel: openai/gpt-4o-mini}\n');
    expect(parseAgentBudgets(agent)).toEqual({ daily: { limitUsd: 5 }, onExceed: 'downgrade', downgradeModel: 'openai/gpt-4o-mini' });
    expect(parseAgentBudgets({ name: 'plain' })).toBeUndefined();
    expect(() => parseAgentBudgets({ name: 'bad', budgets: { daily: { limitUsd: 'x' } } })).toThrow(/agent bad: invalid budgets: budgets\.daily\.limitUsd/);
  });
});

describe('scopes and periods', () => {
  it('names scopes and UTC periods', () => {
    expect(scopeKey('tenant', 'acme')).toBe('tenant:acme');
    expect(scopeKey('user', 'acme', 'bob')).toBe('user:acme:bob');
    expect(scopeKey('agent', 'acme', 'demo')).toBe('agent:acme:demo');
    // A ':' in a name cannot make two scopes collide.
    expect(scopeKey('user', 'a:b', 'c')).not.toBe(scopeKey('user', 'a', 'b:c'));
    expect(periodsAt(NOW)).toEqual({ day: 'day:2026-11-24', month: 'month:2026-11' });
    expect(periodsAt(new Date('2026-12-01T00:00:00Z'))).toEqual({ day: 'day:2026-12-01', month: 'month:2026-12' });
  });

  it('resolves the rules and lines that apply: named entries, then agent file, then wildcards', () => {
    const config = parseBudgetsConfig(YAML, 'b.yaml');
    const plan = resolveBudgets(config, { tenant: 'acme', userId: 'bob', agent: 'demo' }, { now: NOW });
    expect(plan.scopes.map((s) => s.scope)).toEqual(['tenant:acme', 'user:acme:bob', 'agent:acme:demo']);
    expect(plan.lines).toEqual([
      { scope: 'tenant:acme', period: 'day:2026-11-24', limitUsd: 10 },
      { scope: 'tenant:acme', period: 'month:2026-11', limitUsd: 200 },
      { scope: 'user:acme:bob', period: 'day:2026-11-24', limitUsd: 2 },
      { scope: 'agent:acme:demo', period: 'month:2026-11', limitUsd: 50 },
    ]);
    const agentBudgets = { daily: { limitUsd: 7 }, onExceed: 'reject' as const };
    // The operator's named entry beats the agent file; the agent file beats the operator's wildcard.
    expect(resolveBudgets(config, { tenant: 'acme', agent: 'demo' }, { now: NOW, agentBudgets }).lines.at(-1)).toMatchObject({ scope: 'agent:acme:demo', limitUsd: 50 });
    expect(resolveBudgets(config, { tenant: 'acme', agent: 'other' }, { now: NOW, agentBudgets }).lines.at(-1)).toMatchObject({ scope: 'agent:acme:other', limitUsd: 7 });
    expect(resolveBudgets(config, { tenant: 'acme', agent: 'other' }, { now: NOW }).lines.at(-1)).toMatchObject({ scope: 'agent:acme:other', limitUsd: 3 });
    // Another tenant gets the tenant wildcard; no user, no user budget.
    expect(resolveBudgets(config, { tenant: 'zeta', agent: 'demo' }, { now: NOW }).lines).toEqual([{ scope: 'tenant:zeta', period: 'day:2026-11-24', limitUsd: 1 }]);
    expect(resolveBudgets(NO_BUDGETS, { tenant: 'acme', agent: 'demo' })).toEqual({ scopes: [], lines: [] });
    // "constructor" is a name, not a prototype property.
    expect(resolveBudgets(NO_BUDGETS, { tenant: 'constructor', agent: 'toString' }).scopes).toEqual([]);
  });
});

describe('decisions', () => {
  const config = parseBudgetsConfig(YAML, 'b.yaml');
  const plan = resolveBudgets(config, { tenant: 'acme', userId: 'bob', agent: 'demo' }, { now: NOW });

  it('allows an estimate within every per-request cap', () => {
    expect(checkPerRequestCap(plan, 0.2, 'openai/gpt-4o')).toEqual({ action: 'allow' });
  });

  it("downgrades above the user's cap (its rule says so), rejects above the tenant's", () => {
    expect(checkPerRequestCap(plan, 0.3, 'openai/gpt-4o')).toMatchObject({ action: 'downgrade', reason: 'per_request_cap', scope: 'user:acme:bob', model: 'openai/gpt-4o-mini' });
    expect(checkPerRequestCap(plan, 0.6, 'openai/gpt-4o')).toMatchObject({ action: 'reject', reason: 'per_request_cap', scope: 'tenant:acme' });
    // Already on the downgrade model: nothing cheaper to go to.
    expect(checkPerRequestCap(plan, 0.3, 'openai/gpt-4o-mini')).toMatchObject({ action: 'reject', scope: 'user:acme:bob' });
  });

  it('maps exhausted rows to their rule: reject wins over downgrade', () => {
    expect(onBudgetExhausted(plan, [{ scope: 'user:acme:bob', period: 'day:2026-11-24' }], 'openai/gpt-4o')).toMatchObject({ action: 'downgrade', reason: 'budget_exhausted', period: 'day:2026-11-24', model: 'openai/gpt-4o-mini' });
    expect(onBudgetExhausted(plan, [{ scope: 'user:acme:bob', period: 'day:2026-11-24' }, { scope: 'agent:acme:demo', period: 'month:2026-11' }], 'openai/gpt-4o')).toMatchObject({ action: 'reject', scope: 'agent:acme:demo' });
    expect(onBudgetExhausted(plan, [{ scope: 'tenant:other', period: 'day:2026-11-24' }], 'openai/gpt-4o')).toMatchObject({ action: 'reject', scope: 'tenant:other' });
    expect(onBudgetExhausted(plan, [], 'openai/gpt-4o')).toEqual({ action: 'allow' });
  });
});

describe('budget overrides', () => {
  it('replace the configured limit of their scope and period kind until they expire, and create no budget', () => {
    const config = parseBudgetsConfig(YAML, 'b.yaml');
    const plan = resolveBudgets(config, { tenant: 'acme', userId: 'bob', agent: 'demo' }, { now: NOW });
    const until = new Date(NOW.getTime() + 1000);
    const out = applyOverrides(plan, [
      { scope: 'user:acme:bob', period: 'day', limitUsd: 7, expiresAt: until },
      { scope: 'tenant:acme', period: 'month', limitUsd: 500, expiresAt: until },
      { scope: 'user:acme:alice', period: 'day', limitUsd: 99, expiresAt: until },
      { scope: 'agent:acme:demo', period: 'day', limitUsd: 99, expiresAt: until }, // no daily agent line: nothing created
      { scope: 'tenant:acme', period: 'day', limitUsd: 0, expiresAt: NOW }, // expired at NOW
    ], NOW);
    expect(out.lines).toEqual([
      { scope: 'tenant:acme', period: 'day:2026-11-24', limitUsd: 10 },
      { scope: 'tenant:acme', period: 'month:2026-11', limitUsd: 500 },
      { scope: 'user:acme:bob', period: 'day:2026-11-24', limitUsd: 7 },
      { scope: 'agent:acme:demo', period: 'month:2026-11', limitUsd: 50 },
    ]);
    expect(out.scopes).toBe(plan.scopes);
    expect(applyOverrides(plan, [], NOW)).toBe(plan);
  });
});
