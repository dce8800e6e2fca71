import { formatDuration } from './progress';
import type { EvalReport, ReportCase } from './report';
import { usd } from './report-text';

/**
 * The HTML report of `keel eval`: one self-contained file (inline CSS, no
 * scripts, no external assets) with a summary header, the baseline
 * comparison, and one row per case (`tr.case`, `data-case-id`) with its
 * input, output, scorer results, latency, steps and cost. Failing rows carry
 * the class `fail`, regressions `regression`. Every piece of text from a case
 * or a model is escaped: outputs are hostile input.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' })[ch]!);
}

const e = escapeHtml;

const CSS = `
:root { --fg: #1d232b; --muted: #5d6875; --line: #d9dee4; --pass: #1a7f37; --fail: #c62828; --reg-bg: #ffe3e3; --imp-bg: #fff6d6; --bg-alt: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: var(--muted); margin: 0 0 16px; }
.meta code { font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0 4px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.card .v { font-size: 20px; font-weight: 600; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.bad .v { color: var(--fail); }
.card.good .v { color: var(--pass); }
.status-line { font-weight: 600; padding: 8px 12px; border-radius: 6px; display: inline-block; margin: 8px 0; }
.status-line.ok { background: #e6f4ea; color: var(--pass); }
.status-line.bad { background: var(--reg-bg); color: var(--fail); }
ul.ids { margin: 4px 0; padding-left: 20px; }
ul.ids li.regression { color: var(--fail); font-weight: 600; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; text-align: left; }
th { background: var(--bg-alt); position: sticky; top: 0; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
col.c-id { width: 13%; } col.c-res { width: 8%; } col.c-in { width: 17%; } col.c-out { width: 21%; } col.c-sc { width: 20%; } col.c-num { width: 7%; }
th.num { text-align: right; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; font-size: 13px; }
tr.case.fail { background: #fff5f5; }
tr.case.regression { background: var(--reg-bg); box-shadow: inset 4px 0 0 var(--fail); }
tr.case.improvement { background: var(--imp-bg); }
.id { font-weight: 600; word-break: break-all; }
.src, .task { color: var(--muted); font-size: 12px; word-break: break-all; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; border-radius: 10px; padding: 1px 8px; text-transform: uppercase; letter-spacing: .03em; }
.badge.pass { background: #e6f4ea; color: var(--pass); }
.badge.fail { background: #fde2e2; color: var(--fail); }
.badge.regression { background: var(--fail); color: #fff; }
.badge.improvement { background: #f5c400; color: #3a2f00; }
.badge.new { background: #dbe9ff; color: #0b4fb3; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; max-height: 11em; overflow: auto; font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--bg-alt); padding: 4px 6px; border-radius: 4px; }
pre.none { color: var(--muted); font-style: italic; }
ul.scorers { list-style: none; margin: 0; padding: 0; font-size: 12px; }
ul.scorers li { margin: 0 0 3px; word-break: break-word; }
ul.scorers li.ok::before { content: "\\2713  "; color: var(--pass); font-weight: 700; }
ul.scorers li.ko::before { content: "\\2717  "; color: var(--fail); font-weight: 700; }
ul.scorers li.ko .name { color: var(--fail); font-weight: 600; }
.err { color: var(--fail); font-size: 12px; margin-top: 4px; word-break: break-word; }
.tags { color: var(--muted); font-size: 11px; }
`;

function badge(kind: string, text = kind): string {
  return `<span class="badge ${e(kind)}">${e(text)}</span>`;
}

function pre(text: string | null, empty: string): string {
  return text === null || text === '' ? `<pre class="none">${e(empty)}</pre>` : `<pre>${e(text)}</pre>`;
}

function scorerList(c: ReportCase): string {
  const items = c.scorers.map((s) => {
    const detail = s.reason ? `: ${e(s.reason)}` : '';
    const score = s.score !== undefined ? ` (${e(s.score.toFixed(2))})` : '';
    return `<li class="${s.pass ? 'ok' : 'ko'}"><span class="name">${e(s.scorer)}</span>${score}${detail}</li>`;
  });
  return `<ul class="scorers">${items.join('')}</ul>`;
}

function caseRow(c: ReportCase): string {
  const classes = ['case', c.pass ? 'pass' : 'fail', ...(c.baseline && c.baseline !== 'unchanged' ? [c.baseline] : [])];
  const marks = [badge(c.pass ? 'pass' : 'fail'), ...(c.baseline && c.baseline !== 'unchanged' ? [badge(c.baseline)] : [])].join(' ');
  const error = c.error ? `<div class="err">${e(c.error.code)}: ${e(c.error.message)}</div>` : '';
  const judge = c.judge?.taskId ? `<div class="task">judge task ${e(c.judge.taskId)} (${e(usd(c.judge.costUsd))})</div>` : '';
  return `<tr class="${e(classes.join(' '))}" data-case-id="${e(c.id)}" data-pass="${c.pass ? 'true' : 'false'}">
<td><div class="id">${e(c.id)}</div><div class="src">${e(c.source)}</div>${c.agent ? `<div class="src">agent ${e(c.agent)}</div>` : ''}${c.tags.length ? `<div class="tags">${c.tags.map(e).join(' · ')}</div>` : ''}${c.taskId ? `<div class="task">task ${e(c.taskId)}</div>` : ''}</td>
<td>${marks}<div class="src">${e(c.status)}${c.cancelled ? ' (then cancelled)' : ''}</div></td>
<td>${pre(c.input, '(empty)')}</td>
<td>${pre(c.output, '(no output)')}${error}</td>
<td>${scorerList(c)}${judge}</td>
<td class="num">${e(formatDuration(c.latencyMs))}</td>
<td class="num">${c.steps}</td>
<td class="num">${e(usd(c.costUsd))}</td>
</tr>`;
}

function card(k: string, v: string, tone = ''): string {
  return `<div class="card ${tone}"><div class="v">${e(v)}</div><div class="k">${e(k)}</div></div>`;
}

function idList(ids: string[], cls = ''): string {
  return `<ul class="ids">${ids.map((id) => `<li class="${cls}">${e(id)}</li>`).join('')}</ul>`;
}

function baselineSection(r: EvalReport): string {
  const b = r.baseline;
  if (!b) return '';
  const parts = [`<h2>Baseline${b.file ? ` <code>${e(b.file)}</code>` : ''}</h2>`, '<section id="baseline">'];
  parts.push(`<p><b class="${b.regressions.length ? 'bad' : ''}">${b.regressions.length} regression${b.regressions.length === 1 ? '' : 's'}</b> (passed in the baseline, fail now), ${b.improvements.length} improvement${b.improvements.length === 1 ? '' : 's'}, ${b.added.length} new, ${b.missing.length} missing, ${b.unchanged} unchanged.</p>`);
  if (b.regressions.length) parts.push(`<div id="regressions"><b>Regressions</b>${idList(b.regressions, 'regression')}</div>`);
  if (b.improvements.length) parts.push(`<div id="improvements"><b>Improvements</b>${idList(b.improvements)}</div>`);
  if (b.added.length) parts.push(`<div id="new-cases"><b>New cases</b>${idList(b.added.map((a) => `${a.id} (${a.pass ? 'pass' : 'fail'})`))}</div>`);
  if (b.missing.length) parts.push(`<div id="missing-cases"><b>Missing cases</b>${idList(b.missing)}</div>`);
  parts.push('</section>');
  return parts.join('\n');
}

export function renderHtml(r: EvalReport): string {
  const t = r.summary;
  const ok = r.exitCode === 0;
  const verdict = ok
    ? (t.failed === 0 ? 'All cases passed' : `No regressions (${t.failed} case${t.failed === 1 ? '' : 's'} still failing as in the baseline)`)
    : (r.baseline ? `${r.baseline.regressions.length} regression${r.baseline.regressions.length === 1 ? '' : 's'}` : `${t.failed} case${t.failed === 1 ? '' : 's'} failed`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(`keel eval: ${t.passed}/${t.total} passed`)}</title>
<style>${CSS}</style>
</head>
<body>
<header id="summary">
<h1>keel eval</h1>
<p class="meta">Dataset ${r.dataset.map((d) => `<code>${e(d)}</code>`).join(', ')} (${r.files.length} file${r.files.length === 1 ? '' : 's'}) · Keel ${e(r.keelUrl)} · started ${e(r.startedAt)} · run <code>${e(r.runId)}</code> · concurrency ${r.concurrency} · judge agent <code>${e(r.judgeAgent)}</code>${r.tags.length ? ` · tags ${e(r.tags.join(', '))}` : ''}</p>
<div class="status-line ${ok ? 'ok' : 'bad'}" id="verdict">${e(verdict)}</div>
<div class="cards">
${card('cases', String(t.total))}
${card('passed', String(t.passed), 'good')}
${card('failed', String(t.failed), t.failed ? 'bad' : '')}
${card('pass rate', `${(t.passRate * 100).toFixed(1)} %`)}
${card('wall time', formatDuration(r.durationMs))}
${card('cases/s', t.casesPerSecond.toFixed(1))}
${card('cost', usd(t.costUsd))}
${t.judgeCostUsd > 0 ? card('judge cost', usd(t.judgeCostUsd)) : ''}
${card('latency p50', formatDuration(t.latencyMs.p50))}
${card('latency p95', formatDuration(t.latencyMs.p95))}
${card('steps', String(t.steps))}
</div>
${r.failing.length ? `<div id="failing"><b>Failing cases</b>${idList(r.failing)}</div>` : ''}
</header>
${baselineSection(r)}
<h2>Cases</h2>
<table id="cases">
<colgroup><col class="c-id"><col class="c-res"><col class="c-in"><col class="c-out"><col class="c-sc"><col class="c-num"><col class="c-num"><col class="c-num"></colgroup>
<thead><tr><th>case</th><th>result</th><th>input</th><th>output</th><th>scorers</th><th class="num">latency</th><th class="num">steps</th><th class="num">cost</th></tr></thead>
<tbody>
${r.cases.map(caseRow).join('\n')}
</tbody>
</table>
</body>
</html>
`;
}
