// Offline measurement of the span detectors (PII and secrets) on the guardrail datasets.
// Nothing here runs at request time; `main.ts` (npm run guardrail:eval) prints the report.
//
// PII matching rule (see `matchPii`):
//   * a gold span of presidio type G is a TRUE POSITIVE when at least one predicted span whose type
//     maps to G (PII_GOLD_TYPE) covers at least half of the gold span's characters
//     (overlap(pred, gold) >= 0.5 * len(gold)); otherwise it is a FALSE NEGATIVE;
//   * a predicted span is a FALSE POSITIVE when it overlaps no gold span of its mapped type at all
//     (an overlap with a gold span of another type, e.g. a "phone" inside a STREET_ADDRESS, is a false
//     positive too); a prediction that overlaps a same-type gold span by less than half is neither;
//   * tp/fn are counted on gold spans, fp on predicted spans (so fragments of one gold span do not
//     count twice).
// Secrets: a row is predicted `secret` when detectSecrets() returns at least one match (a credential
// or an identifier: noseyparker reports both). The "credentials only" figure counts credential matches alone.
import * as path from 'node:path';
import { normalise, toOriginalSpan } from '../screening/normalise';
import { detectPii } from '../screening/pii.detector';
import type { PiiType } from '../screening/pii.detector';
import { detectSecrets } from '../screening/secrets.detector';
import { formatTable, prf, readJsonl, tally } from './dataset';
import type { Confusion, Prf } from './dataset';

export interface GoldSpan {
  start: number;
  end: number;
  type: string;
}

/** Row of pii-{train,test}.jsonl. */
export interface PiiRow {
  text: string;
  spans: GoldSpan[];
  source: string;
}

/** Row of secrets-test.jsonl. */
export interface SecretRow {
  text: string;
  label: 'secret' | 'not_secret';
  type: string;
  source: string;
}

/** The presidio entity each detector type is scored against. Types with no gold label in the data
 * (e.g. the Chinese resident id) still count: every match of theirs is a false positive there. */
export const PII_GOLD_TYPE: Readonly<Record<PiiType, string>> = {
  email: 'EMAIL_ADDRESS',
  phone: 'PHONE_NUMBER',
  cn_mobile: 'PHONE_NUMBER',
  ssn: 'US_SSN',
  cn_resident_id: 'CN_RESIDENT_ID',
  us_driver_license: 'US_DRIVER_LICENSE',
  credit_card: 'CREDIT_CARD',
  iban: 'IBAN_CODE',
  ipv4: 'IP_ADDRESS',
  ipv6: 'IP_ADDRESS',
};

/** The types issue 5 names (micro-average). US_DRIVER_LICENSE is reported separately. */
export const NAMED_PII_TYPES: readonly string[] = ['EMAIL_ADDRESS', 'PHONE_NUMBER', 'US_SSN', 'CREDIT_CARD', 'IBAN_CODE', 'IP_ADDRESS'];
export const DRIVER_LICENSE = 'US_DRIVER_LICENSE';
/** A gold span is found when one compatible prediction covers at least this share of it. */
export const MIN_GOLD_COVERAGE = 0.5;

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
}

export interface TypeMetrics extends Counts {
  type: string;
  /** Gold spans of this type. */
  support: number;
  precision: number;
  recall: number;
  f1: number;
  /** False for presidio types no detector targets (reported as figures only). */
  detected: boolean;
}

export interface PiiExample {
  text: string;
  span: string;
  type: string;
}

export interface PiiEvaluation {
  file: string;
  rows: number;
  /** One row per presidio type in the file plus detector-only types, named types first. */
  perType: TypeMetrics[];
  /** Micro-average over NAMED_PII_TYPES, plus the false positives of detector types with no presidio
   * label in the data (CN_RESIDENT_ID); US_DRIVER_LICENSE counts only in `microWithDriverLicense`. */
  micro: TypeMetrics;
  /** The same with US_DRIVER_LICENSE added. */
  microWithDriverLicense: TypeMetrics;
  /** A few missed gold spans and false positives, for reading the report. */
  misses: PiiExample[];
  falsePositives: PiiExample[];
}

/**
 * noseyparker rule types whose `secret` rows are identifiers rather than credentials: resource
 * names and hostnames (ARNs, S3/GCS buckets, Shopify store domains), account and OAuth client ids,
 * usernames and a public key. detectSecrets() reports these with `kind: 'identifier'` (screen()
 * lists them and redacts them only when asked); the report also shows the figures on the other rule
 * types with credential matches alone.
 */
export const IDENTIFIER_RULE_TYPES: readonly string[] = [
  'Amazon Resource Name',
  'AWS S3 Bucket',
  'AWS Account ID',
  'Google Cloud Storage Bucket',
  'Shopify Domain',
  'Google Client ID',
  'GitHub Client ID',
  'LinkedIn Client ID',
  'Twitter Client ID',
  'React App Username',
  'Age Recipient (X25519 public key)',
];

export interface RowMetrics extends Confusion, Prf {
  rows: number;
}

export interface SecretTypeMetrics {
  type: string;
  secret: number;
  /** `secret` rows with any match. */
  found: number;
  notSecret: number;
  /** `not_secret` rows with any match. */
  flagged: number;
}

/** Counts on every row, a row predicted `secret` when detectSecrets() finds anything (credential or identifier). */
export interface SecretsEvaluation extends RowMetrics {
  file: string;
  /** Every row, predicted `secret` only when a credential is found (identifier matches ignored). */
  credentialsOnly: RowMetrics;
  /** Rows whose rule type is not in IDENTIFIER_RULE_TYPES, credential matches only. */
  credentialRuleTypes: RowMetrics;
  /** Rows whose rule type is in IDENTIFIER_RULE_TYPES, identifier matches only. */
  identifierRuleTypes: RowMetrics;
  perType: SecretTypeMetrics[];
  /** Rule types with at least one `secret` row not found, with counts. */
  missedTypes: { type: string; missed: number; total: number }[];
  /** `not_secret` rows that were flagged. */
  falsePositiveRows: number;
  falsePositiveTypes: { type: string; flagged: number; total: number }[];
}

interface Predicted {
  type: PiiType;
  start: number;
  end: number;
}

/** detectPii over the `clean` view, spans mapped back to `text` (what screen() does). */
export function predictPii(text: string): Predicted[] {
  const n = normalise(text);
  return detectPii(n.clean.text).map((p) => ({ type: p.type, ...toOriginalSpan(n.clean, p.start, p.end) }));
}

function overlap(a: { start: number; end: number }, b: { start: number; end: number }): number {
  return Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
}

/** Scores one row: per gold type tp/fn, per mapped predicted type fp (see the rule at the top). */
export function matchPii(gold: readonly GoldSpan[], predicted: readonly Predicted[]): { tp: Map<string, number>; fn: Map<string, number>; fp: Map<string, number>; missed: GoldSpan[]; wrong: Predicted[] } {
  const tp = new Map<string, number>();
  const fn = new Map<string, number>();
  const fp = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string): void => {
    m.set(k, (m.get(k) ?? 0) + 1);
  };
  const missed: GoldSpan[] = [];
  for (const g of gold) {
    const len = Math.max(1, g.end - g.start);
    const hit = predicted.some((p) => PII_GOLD_TYPE[p.type] === g.type && overlap(p, g) >= MIN_GOLD_COVERAGE * len);
    if (hit) bump(tp, g.type);
    else {
      bump(fn, g.type);
      missed.push(g);
    }
  }
  const wrong: Predicted[] = [];
  for (const p of predicted) {
    const gt = PII_GOLD_TYPE[p.type];
    if (!gold.some((g) => g.type === gt && overlap(p, g) > 0)) {
      bump(fp, gt);
      wrong.push(p);
    }
  }
  return { tp, fn, fp, missed, wrong };
}

function metrics(type: string, c: Counts, support: number, detected: boolean): TypeMetrics {
  return { type, ...c, support, ...prf(c.tp, c.fp, c.fn), detected };
}

const MAX_EXAMPLES = 40;
const TARGETED: ReadonlySet<string> = new Set(Object.values(PII_GOLD_TYPE));

/** Evaluates detectPii on `<dataDir>/<file>` (default pii-test.jsonl; pass pii-train.jsonl for train). */
export function evaluatePii(dataDir: string, file = 'pii-test.jsonl'): PiiEvaluation {
  return scorePii(readJsonl<PiiRow>(path.join(dataDir, file)), file);
}

const excerpt = (text: string): string => (text.length > 160 ? `${text.slice(0, 160)}…` : text);

/** Scores detectPii on rows already in memory (`file` is only a label for the report). */
export function scorePii(rows: readonly PiiRow[], file: string): PiiEvaluation {
  const counts = new Map<string, Counts>();
  const support = new Map<string, number>();
  const get = (t: string): Counts => {
    let c = counts.get(t);
    if (c === undefined) {
      c = { tp: 0, fp: 0, fn: 0 };
      counts.set(t, c);
    }
    return c;
  };
  const misses: PiiExample[] = [];
  const falsePositives: PiiExample[] = [];
  for (const row of rows) {
    for (const g of row.spans) support.set(g.type, (support.get(g.type) ?? 0) + 1);
    const r = matchPii(row.spans, predictPii(row.text));
    for (const [t, n] of r.tp) get(t).tp += n;
    for (const [t, n] of r.fn) get(t).fn += n;
    for (const [t, n] of r.fp) get(t).fp += n;
    for (const g of r.missed) {
      if (TARGETED.has(g.type) && misses.length < MAX_EXAMPLES) misses.push({ text: excerpt(row.text), span: row.text.slice(g.start, g.end), type: g.type });
    }
    for (const p of r.wrong) {
      if (falsePositives.length < MAX_EXAMPLES) falsePositives.push({ text: excerpt(row.text), span: row.text.slice(p.start, p.end), type: p.type });
    }
  }
  const detectedTypes = TARGETED;
  const allTypes = new Set([...NAMED_PII_TYPES, DRIVER_LICENSE, ...detectedTypes, ...support.keys(), ...counts.keys()]);
  const order = [...NAMED_PII_TYPES, DRIVER_LICENSE];
  const sorted = [...allTypes].sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    if (ia !== ib) return (ia === -1 ? order.length : ia) - (ib === -1 ? order.length : ib);
    const da = detectedTypes.has(a) ? 0 : 1;
    const db = detectedTypes.has(b) ? 0 : 1;
    return da - db || (support.get(b) ?? 0) - (support.get(a) ?? 0) || a.localeCompare(b);
  });
  const perType = sorted.map((t) => metrics(t, get(t), support.get(t) ?? 0, detectedTypes.has(t)));
  // Micro-average over `types`: their tp/fn, plus the false positives of every detector type that is
  // not scored elsewhere (e.g. CN_RESIDENT_ID), so no prediction escapes the precision figure.
  const scored = new Set([...NAMED_PII_TYPES, DRIVER_LICENSE]);
  const sum = (types: readonly string[], name: string): TypeMetrics => {
    const c: Counts = { tp: 0, fp: 0, fn: 0 };
    let n = 0;
    for (const m of perType) {
      if (types.includes(m.type)) {
        c.tp += m.tp;
        c.fn += m.fn;
        c.fp += m.fp;
        n += m.support;
      } else if (m.detected && !scored.has(m.type)) c.fp += m.fp;
    }
    return metrics(name, c, n, true);
  };
  const micro = sum(NAMED_PII_TYPES, 'micro (named types)');
  const withDl = sum([...NAMED_PII_TYPES, DRIVER_LICENSE], `micro (named + ${DRIVER_LICENSE})`);
  return { file, rows: rows.length, perType, micro, microWithDriverLicense: withDl, misses, falsePositives };
}

/** Evaluates detectSecrets on `<dataDir>/<file>` (default secrets-test.jsonl): one prediction per row. */
export function evaluateSecrets(dataDir: string, file = 'secrets-test.jsonl'): SecretsEvaluation {
  return scoreSecrets(readJsonl<SecretRow>(path.join(dataDir, file)), file);
}

/** Scores detectSecrets on rows already in memory (`file` is only a label for the report). */
export function scoreSecrets(rows: readonly SecretRow[], file: string): SecretsEvaluation {
  const byType = new Map<string, SecretTypeMetrics>();
  const all: RowMetrics = { rows: 0, tp: 0, fp: 0, fn: 0, tn: 0, precision: 0, recall: 0, f1: 0 };
  const credentials: RowMetrics = { ...all };
  const credentialRules: RowMetrics = { ...all };
  const identifierRules: RowMetrics = { ...all };
  const count = (c: RowMetrics, actual: boolean, predicted: boolean): void => {
    c.rows++;
    tally(c, actual, predicted);
  };
  for (const row of rows) {
    const matches = detectSecrets(normalise(row.text).clean.text);
    const predicted = matches.length > 0;
    const credential = matches.some((m) => m.kind === 'credential');
    const identifier = matches.some((m) => m.kind === 'identifier');
    let t = byType.get(row.type);
    if (t === undefined) {
      t = { type: row.type, secret: 0, found: 0, notSecret: 0, flagged: 0 };
      byType.set(row.type, t);
    }
    const actual = row.label === 'secret';
    if (actual) {
      t.secret++;
      if (predicted) t.found++;
    } else {
      t.notSecret++;
      if (predicted) t.flagged++;
    }
    count(all, actual, predicted);
    count(credentials, actual, credential);
    if (IDENTIFIER_RULE_TYPES.includes(row.type)) count(identifierRules, actual, identifier);
    else count(credentialRules, actual, credential);
  }
  for (const c of [all, credentials, credentialRules, identifierRules]) Object.assign(c, prf(c.tp, c.fp, c.fn));
  const perType = [...byType.values()].sort((a, b) => a.type.localeCompare(b.type));
  const missedTypes = perType.filter((t) => t.found < t.secret).map((t) => ({ type: t.type, missed: t.secret - t.found, total: t.secret }));
  const falsePositiveTypes = perType.filter((t) => t.flagged > 0).map((t) => ({ type: t.type, flagged: t.flagged, total: t.notSecret }));
  return { file, ...all, credentialsOnly: credentials, credentialRuleTypes: credentialRules, identifierRuleTypes: identifierRules, perType, missedTypes, falsePositiveRows: all.fp, falsePositiveTypes };
}

const pct = (x: number): string => x.toFixed(3);
// A ratio whose denominator is 0 (no predictions, or no gold spans) prints as "-".
const ratio = (x: number, denominator: number): string => (denominator === 0 ? '-' : pct(x));

/** PII per type and micro-averages; with `piiTrain`, the micro-averages on the training file too. */
export function formatPiiReport(pii: PiiEvaluation, piiTrain?: PiiEvaluation): string {
  const row = (m: TypeMetrics): (string | number)[] => [m.type, m.support, m.tp, m.fp, m.fn, ratio(m.precision, m.tp + m.fp), ratio(m.recall, m.tp + m.fn), ratio(m.f1, m.tp + m.fp + m.fn)];
  const header = ['type', 'gold', 'tp', 'fp', 'fn', 'precision', 'recall', 'f1'];
  const named = pii.perType.filter((m) => m.detected);
  const other = pii.perType.filter((m) => !m.detected);
  const out: string[] = [];
  out.push(`PII — ${pii.file} (${pii.rows} rows); a gold span is found when a same-type prediction covers >= ${MIN_GOLD_COVERAGE * 100}% of it`);
  out.push(formatTable(header, [...named.map(row), row(pii.micro), row(pii.microWithDriverLicense)]));
  if (piiTrain !== undefined) {
    out.push('', `same detectors on ${piiTrain.file} (${piiTrain.rows} rows, the file the PII rules were tuned on)`);
    out.push(formatTable(header, [row(piiTrain.micro), row(piiTrain.microWithDriverLicense)]));
  }
  if (other.length > 0) {
    out.push('', 'presidio types with no detector (figures only; recall 0 by construction)');
    out.push(formatTable(['type', 'gold', 'recall'], other.map((m) => [m.type, m.support, pct(m.recall)])));
  }
  return out.join('\n');
}

/** Secrets: row counts (all findings, credentials only, per rule family), missed and flagged rule types. */
export function formatSecretsReport(secrets: SecretsEvaluation): string {
  const out: string[] = [];
  out.push(`Secrets — ${secrets.file} (${secrets.rows} rows; "all findings": a row is "secret" when detectSecrets() finds a credential or an identifier; "credentials only": when it finds a credential)`);
  const rowLine = (name: string, c: RowMetrics): (string | number)[] => [name, c.rows, c.tp, c.fp, c.fn, c.tn, pct(c.precision), pct(c.recall), pct(c.f1)];
  out.push(formatTable(['rows', 'n', 'tp', 'fp', 'fn', 'tn', 'precision', 'recall', 'f1'], [
    rowLine('all rows, all findings', secrets),
    rowLine('all rows, credentials only', secrets.credentialsOnly),
    rowLine('credential rule types, credentials only', secrets.credentialRuleTypes),
    rowLine('identifier rule types, identifiers only', secrets.identifierRuleTypes),
  ]));
  if (secrets.missedTypes.length > 0) {
    out.push('', 'missed secret rows by rule type (* = identifier rule type)');
    out.push(formatTable(['type', 'missed', 'of'], secrets.missedTypes.map((t) => [`${IDENTIFIER_RULE_TYPES.includes(t.type) ? '* ' : ''}${t.type}`, t.missed, t.total])));
  }
  if (secrets.falsePositiveTypes.length > 0) {
    out.push('', `flagged not_secret rows by rule type (${secrets.falsePositiveRows} in all)`);
    out.push(formatTable(['type', 'flagged', 'of'], secrets.falsePositiveTypes.map((t) => [`${IDENTIFIER_RULE_TYPES.includes(t.type) ? '* ' : ''}${t.type}`, t.flagged, t.total])));
  }
  return out.join('\n');
}

/** Both reports, PII first (see formatPiiReport and formatSecretsReport). */
export function formatSpanReport(pii: PiiEvaluation, secrets: SecretsEvaluation, piiTrain?: PiiEvaluation): string {
  return `${formatPiiReport(pii, piiTrain)}\n\n${formatSecretsReport(secrets)}`;
}
