import type { Style } from '../format';
import { formatDuration } from './progress';
import type { EvalReport, ReportCase } from './report';
import { oneLine } from './scorers';

/** The terminal report of `keel eval`: a table of cases, the failures, totals, the baseline comparison and the failing ids. */
const ESC = '\u001b[';
const C = { reset: `${ESC}0m`, bold: `${ESC}1m`, dim: `${ESC}2m`, red: `${ESC}31m`, green: `${ESC}32m`, yellow: `${ESC}33m` };
const paint = (s: Style, c: string, text: string): string => (s.colour ? `${c}${text}${C.reset}` : text);

export const usd = (v: number): string => `$${v.toFixed(6)}`;

function fit(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

function resultText(c: ReportCase): string {
  const base = c.pass ? 'pass' : 'FAIL';
  return c.baseline && c.baseline !== 'unchanged' ? `${base} (${c.baseline})` : base;
}

export function formatTable(report: EvalReport, s: Style): string {
  const idWidth = Math.min(40, Math.max(4, ...report.cases.map((c) => c.id.length)));
  const failedWidth = Math.min(32, Math.max(14, ...report.cases.map((c) => c.failed.join(', ').length)));
  const head = `${fit('case', idWidth)}  ${fit('result', 18)}  ${fit('failed scorers', failedWidth)}  ${'latency'.padStart(9)}  ${'steps'.padStart(5)}  ${'cost'.padStart(10)}`;
  const rows = report.cases.map((c) => {
    const colour = c.baseline === 'regression' || !c.pass ? C.red : c.baseline === 'improvement' ? C.yellow : C.green;
    return [
      fit(c.id, idWidth),
      paint(s, colour, fit(resultText(c), 18)),
      fit(c.failed.join(', ') || '-', failedWidth),
      formatDuration(c.latencyMs).padStart(9),
      String(c.steps).padStart(5),
      usd(c.costUsd).padStart(10),
    ].join('  ');
  });
  return [paint(s, C.bold, head), ...rows].join('\n');
}

export function formatFailures(report: EvalReport, s: Style): string {
  const failing = report.cases.filter((c) => !c.pass);
  if (failing.length === 0) return '';
  const lines = ['', paint(s, C.bold, 'Failures:')];
  for (const c of failing) {
    lines.push(`  ${paint(s, C.red, c.id)}  ${paint(s, C.dim, `${c.source}${c.taskId ? `  task ${c.taskId}` : ''}${c.baseline === 'regression' ? '  REGRESSION' : ''}`)}`);
    for (const r of c.scorers.filter((x) => !x.pass)) lines.push(`    ${r.scorer}: ${oneLine(r.reason ?? 'failed', 300)}`);
  }
  return lines.join('\n');
}

export function formatTotals(report: EvalReport, s: Style): string {
  const t = report.summary;
  const pct = (t.passRate * 100).toFixed(1);
  const lines = [
    '',
    `${t.total} cases: ${paint(s, C.green, `${t.passed} passed`)}, ${paint(s, t.failed > 0 ? C.red : C.dim, `${t.failed} failed`)} (${pct} %) in ${formatDuration(report.durationMs)} (${t.casesPerSecond.toFixed(1)} cases/s, concurrency ${report.concurrency})`,
    `cost ${usd(t.costUsd)}${t.judgeCostUsd > 0 ? ` + judge ${usd(t.judgeCostUsd)}` : ''}; ${t.steps} steps; latency p50 ${formatDuration(t.latencyMs.p50)}, p95 ${formatDuration(t.latencyMs.p95)}, max ${formatDuration(t.latencyMs.max)}`,
  ];
  const b = report.baseline;
  if (b) {
    const list = (ids: string[]) => (ids.length ? `: ${ids.join(', ')}` : '');
    lines.push(`baseline${b.file ? ` ${b.file}` : ''}: ${paint(s, b.regressions.length ? C.red : C.dim, `${b.regressions.length} regression${b.regressions.length === 1 ? '' : 's'}${list(b.regressions)}`)}; ${b.improvements.length} improvement${b.improvements.length === 1 ? '' : 's'}${list(b.improvements)}`);
    if (b.added.length) lines.push(`  new cases (not in the baseline): ${b.added.map((a) => `${a.id} (${a.pass ? 'pass' : 'FAIL'})`).join(', ')}`);
    if (b.missing.length) lines.push(`  missing cases (in the baseline, not run): ${b.missing.join(', ')}`);
    const newFailing = b.added.filter((a) => !a.pass);
    if (newFailing.length) lines.push(paint(s, C.yellow, `  warning: ${newFailing.length} new case(s) fail; they are not regressions, but save a baseline (--save-baseline) to record them`));
  }
  lines.push(report.failing.length ? paint(s, C.red, `failing (${report.failing.length}): ${report.failing.join(' ')}`) : paint(s, C.green, 'failing: none'));
  return lines.join('\n');
}

export function formatReport(report: EvalReport, s: Style): string {
  return [formatTable(report, s), formatFailures(report, s), formatTotals(report, s)].filter((x) => x !== '').join('\n');
}
