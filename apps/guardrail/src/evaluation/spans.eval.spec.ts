import { describe, expect, it } from '@jest/globals';
import { formatPiiReport, formatSecretsReport, formatSpanReport, matchPii, scorePii, scoreSecrets } from './spans.eval';
import type { PiiRow, SecretRow } from './spans.eval';

// Inline synthetic fixtures: no file I/O, nothing from the evaluation data.
const span = (text: string, part: string, type: string): { start: number; end: number; type: string } => {
  const start = text.indexOf(part);
  return { start, end: start + part.length, type };
};

describe('matchPii', () => {
  it('counts a gold span found when a same-type prediction covers at least half of it', () => {
    const gold = [{ start: 10, end: 20, type: 'PHONE_NUMBER' }];
    expect(matchPii(gold, [{ type: 'phone', start: 10, end: 15 }]).tp.get('PHONE_NUMBER')).toBe(1);
    const partial = matchPii(gold, [{ type: 'phone', start: 10, end: 14 }]);
    expect(partial.fn.get('PHONE_NUMBER')).toBe(1);
    // Overlapping its own gold span by less than half is a miss, not also a false positive.
    expect(partial.fp.size).toBe(0);
  });

  it('counts a prediction of another type, or over no gold span, as a false positive', () => {
    const gold = [{ start: 0, end: 20, type: 'STREET_ADDRESS' }];
    const r = matchPii(gold, [{ type: 'phone', start: 0, end: 9 }, { type: 'email', start: 30, end: 40 }]);
    expect(r.fp.get('PHONE_NUMBER')).toBe(1);
    expect(r.fp.get('EMAIL_ADDRESS')).toBe(1);
    expect(r.fn.get('STREET_ADDRESS')).toBe(1);
  });

  it('maps Chinese mobiles to PHONE_NUMBER and IPv6 to IP_ADDRESS', () => {
    const gold = [{ start: 0, end: 11, type: 'PHONE_NUMBER' }, { start: 20, end: 31, type: 'IP_ADDRESS' }];
    const r = matchPii(gold, [{ type: 'cn_mobile', start: 0, end: 11 }, { type: 'ipv6', start: 20, end: 31 }]);
    expect(r.tp.get('PHONE_NUMBER')).toBe(1);
    expect(r.tp.get('IP_ADDRESS')).toBe(1);
  });
});

describe('scorePii', () => {
  const t1 = 'Write to ana.lima@example.org or call (602)555-0143.';
  const t2 = 'My name is Ana Lima and my card is 4111 1111 1111 1111.';
  const t3 = 'Meet at 4521 3318 Larkspur Ave, extension 555 0143.';
  const rows: PiiRow[] = [
    { text: t1, source: 'fixture', spans: [span(t1, 'ana.lima@example.org', 'EMAIL_ADDRESS'), span(t1, '(602)555-0143', 'PHONE_NUMBER')] },
    { text: t2, source: 'fixture', spans: [span(t2, 'Ana Lima', 'PERSON'), span(t2, '4111 1111 1111 1111', 'CREDIT_CARD')] },
    { text: t3, source: 'fixture', spans: [span(t3, '4521 3318 Larkspur Ave', 'STREET_ADDRESS'), span(t3, '555 0143', 'PHONE_NUMBER')] },
  ];
  const ev = scorePii(rows, 'fixture.jsonl');
  const of = (type: string) => ev.perType.find((m) => m.type === type);

  it('reports per-type counts, named types first, and a micro-average over them', () => {
    expect(ev.rows).toBe(3);
    expect(of('EMAIL_ADDRESS')).toMatchObject({ support: 1, tp: 1, fp: 0, fn: 0, precision: 1, recall: 1 });
    expect(of('CREDIT_CARD')).toMatchObject({ tp: 1, fn: 0 });
    // "555 0143" has no phone word before it: a miss (a short pair could be a house number).
    expect(of('PHONE_NUMBER')).toMatchObject({ support: 2, tp: 1, fn: 1, fp: 0, recall: 0.5 });
    expect(ev.micro).toMatchObject({ tp: 3, fp: 0, fn: 1 });
    expect(ev.micro.recall).toBeCloseTo(0.75);
    expect(ev.perType.slice(0, 4).map((m) => m.type)).toEqual(['EMAIL_ADDRESS', 'PHONE_NUMBER', 'US_SSN', 'CREDIT_CARD']);
  });

  it('lists types without a detector with recall 0', () => {
    expect(of('PERSON')).toMatchObject({ detected: false, support: 1, tp: 0, fn: 1, recall: 0 });
    expect(ev.misses.map((m) => m.span)).toEqual(['555 0143']);
  });
});

describe('scoreSecrets', () => {
  const pw = 'Zq' + '7vR2' + 'kP9x';
  const rows: SecretRow[] = [
    { text: `postgres://app:${pw}@db/x`, label: 'secret', type: 'Credentials in PostgreSQL Connection URI', source: 'fixture' },
    { text: 'password = request.form', label: 'not_secret', type: 'Generic Password', source: 'fixture' },
    { text: 'the quick brown fox', label: 'secret', type: 'Generic Password', source: 'fixture' },
    { text: 'arn:aws:s3:::example-bucket', label: 'secret', type: 'Amazon Resource Name', source: 'fixture' },
    { text: `db password="${pw}"`, label: 'not_secret', type: 'Generic Password', source: 'fixture' },
    { text: 's3.amazonaws.com', label: 'not_secret', type: 'AWS S3 Bucket', source: 'fixture' },
  ];
  const ev = scoreSecrets(rows, 'fixture.jsonl');

  it('counts a row found when anything (credential or identifier) is found', () => {
    expect(ev).toMatchObject({ rows: 6, tp: 2, fn: 1, fp: 1, tn: 2, falsePositiveRows: 1 });
    expect(ev.precision).toBeCloseTo(2 / 3);
    expect(ev.recall).toBeCloseTo(2 / 3);
    expect(ev.missedTypes).toEqual([{ type: 'Generic Password', missed: 1, total: 1 }]);
    expect(ev.falsePositiveTypes).toEqual([{ type: 'Generic Password', flagged: 1, total: 2 }]);
  });

  it('also reports credentials only, and each rule family with its own kind of finding', () => {
    // The ARN row is an identifier: a miss when only credentials count.
    expect(ev.credentialsOnly).toMatchObject({ rows: 6, tp: 1, fn: 2, fp: 1, tn: 2 });
    expect(ev.credentialRuleTypes).toMatchObject({ rows: 4, tp: 1, fn: 1, fp: 1, tn: 1 });
    expect(ev.credentialRuleTypes.recall).toBeCloseTo(0.5);
    expect(ev.identifierRuleTypes).toMatchObject({ rows: 2, tp: 1, fn: 0, fp: 0, tn: 1 });
  });

  it('formats both reports as tables', () => {
    const pii = scorePii([{ text: 'mail a@example.org', source: 'fixture', spans: [{ start: 5, end: 18, type: 'EMAIL_ADDRESS' }] }], 'fixture.jsonl');
    const report = formatSpanReport(pii, ev, pii);
    expect(report).toContain('EMAIL_ADDRESS');
    expect(report).toContain('micro (named types)');
    expect(report).toMatch(/all rows, all findings\s+6\s+2\s+1\s+1\s+2/);
    expect(report).toMatch(/all rows, credentials only\s+6\s+1\s+1\s+2\s+2/);
    expect(report).toContain('identifier rule types, identifiers only');
    expect(report).toMatch(/US_SSN\s+0\s+0\s+0\s+0\s+-\s+-\s+-/);
    expect(formatSecretsReport(ev)).toBe(report.slice(report.indexOf('Secrets —')));
    expect(formatPiiReport(pii, pii)).toBe(report.slice(0, report.indexOf('\n\nSecrets —')));
  });
});
