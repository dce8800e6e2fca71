import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { startKeel } from '@keel/testing';
import type { KeelStack } from '@keel/testing';

/**
 * `keel eval` end to end: the five services (with the eval agents of
 * evals/agents loaded through KEEL_AGENTS_DIR), the real CLI as a process,
 * the project's own regression suite, and the HTML report in headless
 * Chromium. The shipped suite passes in full (and matches evals/baseline.json);
 * a copy of it pointed at a broken agent (the calculator no longer allowed)
 * fails exactly the cases that need the calculator, which the CLI names, the
 * exit code reports and the HTML report marks.
 */
const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'tools/cli/dist/main.js');
const SUITE = join(ROOT, 'evals/suite');
const CHROMIUM = process.env.KEEL_CHROMIUM ?? '/usr/bin/chromium';

interface Report {
  exitCode: number;
  failing: string[];
  summary: { total: number; passed: number; failed: number; casesPerSecond: number };
  durationMs: number;
  baseline?: { regressions: string[]; improvements: string[]; added: unknown[]; missing: string[] };
  cases: { id: string; agent?: string; pass: boolean; failed: string[]; scorers: { scorer: string; pass: boolean; reason?: string }[] }[];
}

/** Cases in the shipped suite: JSONL lines plus YAML list items. */
function suiteSize(): number {
  let n = 0;
  for (const f of readdirSync(SUITE)) {
    const text = readFileSync(join(SUITE, f), 'utf8');
    if (f.endsWith('.jsonl')) n += text.split('\n').filter((l) => l.trim() !== '').length;
    else if (/\.ya?ml$/.test(f)) n += (text.match(/^- id: /gm) ?? []).length;
  }
  return n;
}

describe('keel eval (CLI, regression suite, HTML report)', () => {
  let keel: KeelStack;
  let browser: Browser;
  let dir: string;
  let brokenSuite: string;

  const runEval = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((done, fail) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, 'eval', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', KEEL_URL: keel.url('orchestrator'), KEEL_API_KEY: keel.apiKey, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr, ms: Date.now() - started }));
  });
  const readReport = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Report;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'tools/cli/dist/eval/command.js'))) throw new Error('tools/cli is not built: run `node tools/build-quiet.mjs` first');
    dir = mkdtempSync(join(tmpdir(), 'keel-eval-e2e-'));
    // The broken agent: eval-tools under another name, without the calculator.
    const agents = join(dir, 'agents');
    mkdirSync(agents);
    const tools = readFileSync(join(ROOT, 'evals/agents/eval-tools.yaml'), 'utf8');
    const broken = tools.replace(/^name: eval-tools$/m, 'name: eval-tools-broken').replace(/^ {2}- calculator\n/m, '');
    if (broken.includes('- calculator') || !broken.includes('name: eval-tools-broken')) throw new Error('evals/agents/eval-tools.yaml changed shape; update this test');
    writeFileSync(join(agents, 'eval-tools-broken.yaml'), broken);
    // A copy of the suite whose eval-tools cases run on the broken agent.
    brokenSuite = join(dir, 'suite');
    mkdirSync(brokenSuite);
    for (const f of readdirSync(SUITE)) {
      writeFileSync(join(brokenSuite, f), readFileSync(join(SUITE, f), 'utf8').replaceAll('"agent":"eval-tools"', '"agent":"eval-tools-broken"'));
    }
    const launching = chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] }).then((b) => (browser = b));
    const starting = startKeel({ agentsDir: `${join(ROOT, 'evals/agents')}:${agents}` }).then((k) => (keel = k));
    const [launched, started] = await Promise.allSettled([launching, starting]);
    if (launched.status === 'rejected') throw launched.reason;
    if (started.status === 'rejected') throw started.reason;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await keel?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the shipped regression suite: every case passes, exit 0, no regression against evals/baseline.json', async () => {
    const json = join(dir, 'suite.json');
    const r = await runEval(['evals/suite', '--concurrency', '8', '--baseline', 'evals/baseline.json', '--json', json]);
    if (r.code !== 0) throw new Error(`keel eval exited ${r.code}:\n${r.stdout}\n${r.stderr}\n${keel.logs('orchestrator').slice(-3000)}`);
    const report = readReport(json);
    expect(report.summary.total).toBe(suiteSize());
    expect(report.summary.total).toBeGreaterThanOrEqual(50);
    expect(report.summary.failed).toBe(0);
    expect(report.failing).toEqual([]);
    expect(report.baseline).toMatchObject({ regressions: [], improvements: [], added: [], missing: [] });
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('failing: none');
    expect(r.stdout).toMatch(new RegExp(`${report.summary.total} cases: ${report.summary.total} passed, 0 failed`));
    // Not a TTY: the progress bar prints a line per 10 %.
    expect(r.stderr).toMatch(/eval \[#{24}\] \d+\/\d+ 100 %/);
    process.stdout.write(`eval suite: ${report.summary.total} cases in ${report.durationMs} ms (${report.summary.casesPerSecond.toFixed(1)} cases/s); CLI process ${r.ms} ms\n`);
  });

  it('a broken agent fails the cases that need the calculator: exit 1, and the output names them', async () => {
    const json = join(dir, 'broken.json');
    const html = join(dir, 'broken.html');
    const r = await runEval([brokenSuite, '--concurrency', '8', '--baseline', 'evals/baseline.json', '--json', json, '--html', html]);
    expect(r.code).toBe(1);
    const report = readReport(json);
    expect(report.failing).toEqual(expect.arrayContaining(['calc-multiply', 'calc-sqrt', 'multi-chain-three-steps', 'retry-mid-task', 'loop-hint-then-answer']));
    // Only cases on the broken agent fail, each a regression, each for the refused tool.
    for (const id of report.failing) {
      const c = report.cases.find((x) => x.id === id)!;
      expect(c.agent).toBe('eval-tools-broken');
      expect(c.scorers.filter((s) => !s.pass).map((s) => s.reason).join(' ')).toMatch(/tool_not_allowed/);
    }
    expect(report.baseline?.regressions.sort()).toEqual([...report.failing].sort());
    const lastLine = r.stdout.trimEnd().split('\n').at(-1)!;
    expect(lastLine).toBe(`failing (${report.failing.length}): ${report.failing.join(' ')}`);
    expect(r.stdout).toContain(`${report.failing.length} regression`);
    expect(r.stdout).toMatch(/calc-multiply\s+FAIL \(regression\)\s+regex, toolCalls\s/);
    expect(r.stdout).toContain('(tool_not_allowed)');
  });

  it('the HTML report opens in Chromium with one row per case, the failing rows marked', async () => {
    const html = join(dir, 'broken.html');
    const report = readReport(join(dir, 'broken.json'));
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    try {
      await page.goto(`file://${html}`);
      const rows = page.locator('tr.case');
      expect(await rows.count()).toBe(report.summary.total);
      expect(await page.locator('tr.case.fail').count()).toBe(report.failing.length);
      expect(await page.locator('tr.case.regression').count()).toBe(report.failing.length);
      const failing = page.locator('tr.case[data-case-id="calc-multiply"]');
      await failing.scrollIntoViewIfNeeded();
      expect(await failing.isVisible()).toBe(true);
      expect(await failing.getAttribute('class')).toBe('case fail regression');
      expect(await failing.innerText()).toMatch(/REGRESSION[\s\S]*toolCalls[\s\S]*tool_not_allowed/i);
      // A failing row is painted differently from a passing one.
      const bg = (id: string) => page.locator(`tr.case[data-case-id="${id}"]`)
        .evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor);
      expect(await bg('calc-multiply')).not.toBe(await bg('basic-exact'));
      expect(await page.locator('tr.case[data-case-id="basic-exact"]').getAttribute('class')).toBe('case pass');
      expect(await page.locator('#verdict').innerText()).toBe(`${report.failing.length} regressions`);
      const shot = join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      expect(readFileSync(shot).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    } finally {
      await page.close();
    }
  });

  it('a bad dataset is refused with file, line and field, and nothing runs (exit 2)', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"id": "ok", "input": "What is 2+2?"}\n{"id": "typo", "input": "x", "expected": {"stauts": "succeeded"}}\n');
    const r = await runEval([bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.jsonl:2: case "typo", field expected\.stauts: unknown field "stauts"/);
    expect(r.stderr).toMatch(/nothing was run/);
    expect(r.stdout).toBe('');
  });
});
