import { compareBaseline, baselineFrom } from './baseline';
import { buildReport } from './report';
import type { ReportContext } from './report';
import { escapeHtml, renderHtml } from './report-html';
import type { CaseResult } from './runner';

function result(id: string, o: Partial<CaseResult> = {}): CaseResult {
  const pass = o.pass ?? true;
  return {
    id, tags: [], agent: 'eval-basic', source: 'evals/suite/s.jsonl:1', input: `input of ${id}`, taskId: `task-${id}`,
    status: pass ? 'succeeded' : 'failed', output: `output of ${id}`, error: null, pass,
    scorers: pass ? [{ scorer: 'status', pass: true }] : [{ scorer: 'status', pass: true }, { scorer: 'exact', pass: false, reason: 'expected "a", got "b"' }],
    failed: pass ? [] : ['exact'], latencyMs: 120, steps: 1, costUsd: 0.000012, events: 6, ...o,
  };
}

const ctx: ReportContext = {
  dataset: ['evals/suite'], files: ['evals/suite/s.jsonl'], keelUrl: 'http://127.0.0.1:8080', runId: 'r1', startedAt: Date.UTC(2026, 0, 1), finishedAt: Date.UTC(2026, 0, 1, 0, 0, 2),
  concurrency: 8, judgeAgent: 'judge', tags: [],
};

const rows = (html: string): string[] => html.match(/<tr class="case[^"]*"[^>]*>/g) ?? [];

describe('HTML report', () => {
  it('escapes the five HTML metacharacters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('renders hostile outputs, inputs, ids, errors and reasons as text, never as markup', () => {
    const hostile = '<script>alert("pwned")</script><img src=x onerror=alert(1)>';
    const report = buildReport([
      result('evil-1', {
        pass: false, input: hostile, output: `</pre></td></tr>${hostile}`, error: { code: '<b>x</b>', message: hostile },
        scorers: [{ scorer: 'judge', pass: false, reason: hostile, score: 0 }], failed: ['judge'], tags: ['<i>t</i>'], agent: '"><script>',
      }),
    ], { ...ctx, dataset: ['<script>d</script>'], judgeAgent: '<j>' });
    const html = renderHtml(report);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('</pre></td></tr><');
    expect(html).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;');
    expect(rows(html)).toHaveLength(1);
  });

  it('is self-contained: inline CSS, no scripts, no external assets', () => {
    const html = renderHtml(buildReport([result('a')], ctx));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toMatch(/<style>[\s\S]+<\/style>/);
    expect(html).not.toMatch(/<script|<link|\bsrc=|url\(|@import|https?:\/\/(?!127\.0\.0\.1:8080)/);
  });

  it('has a summary header and one row per case; failing rows and regressions are marked', () => {
    const results = [result('a'), result('b', { pass: false }), result('c', { pass: false }), result('d')];
    const baseline = baselineFrom([{ id: 'a', pass: true }, { id: 'b', pass: true }, { id: 'c', pass: false }, { id: 'd', pass: false }]);
    const html = renderHtml(buildReport(results, ctx, compareBaseline(baseline, results, 'evals/baseline.json')));
    expect(rows(html)).toEqual([
      '<tr class="case pass" data-case-id="a" data-pass="true">',
      '<tr class="case fail regression" data-case-id="b" data-pass="false">',
      '<tr class="case fail" data-case-id="c" data-pass="false">',
      '<tr class="case pass improvement" data-case-id="d" data-pass="true">',
    ]);
    expect(html).toContain('<div class="status-line bad" id="verdict">1 regression</div>');
    expect(html).toMatch(/<div id="regressions"><b>Regressions<\/b><ul class="ids"><li class="regression">b<\/li><\/ul><\/div>/);
    expect(html).toContain('<div class="v">4</div><div class="k">cases</div>');
    expect(html).toContain('<div class="v">2</div><div class="k">failed</div>');
    expect(html).toContain('<li class="ko"><span class="name">exact</span>: expected &quot;a&quot;, got &quot;b&quot;</li>');
    expect(html).toContain('<td class="num">$0.000012</td>');
  });

  it('says so when everything passed', () => {
    expect(renderHtml(buildReport([result('a')], ctx))).toContain('id="verdict">All cases passed<');
  });
});
