import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { EvalCommand } from '../args';
import type { CliConfig } from '../config';
import type { Style } from '../format';
import { BaselineError, baselineFrom, compareBaseline, loadBaseline, saveBaseline } from './baseline';
import type { Baseline } from './baseline';
import { DatasetError, loadDataset, selectByTags } from './dataset';
import { Progress } from './progress';
import type { ProgressStream } from './progress';
import { buildReport } from './report';
import { renderHtml } from './report-html';
import { formatReport } from './report-text';
import { EvalRunner, keelEvalClient } from './runner';
import type { EvalClient } from './runner';

/** `keel eval`: load and validate the dataset, run it, score it, report it, compare it with a baseline. */
export interface EvalIo {
  stdout: (text: string) => void;
  stderr: ProgressStream;
  style: Style;
  cwd?: string;
  /** Injected in tests; default: the running Keel at cfg.url. */
  client?: EvalClient;
}

export interface EvalOutcome {
  code: 0 | 1 | 2;
  /** Some event stream did not close: the caller should exit explicitly rather than wait for it. */
  forceExit: boolean;
}

export async function runEvalCommand(cmd: EvalCommand, cfg: CliConfig, io: EvalIo): Promise<EvalOutcome> {
  const cwd = io.cwd ?? process.cwd();
  const shown = (p: string): string => {
    const r = relative(cwd, p);
    return r && !r.startsWith('..') ? r : p;
  };
  let files: string[];
  let all;
  try {
    ({ files, cases: all } = loadDataset(cmd.datasets, cwd));
  } catch (err) {
    if (!(err instanceof DatasetError)) throw err;
    io.stderr.write(`keel eval: ${err.message}\n`);
    return { code: 2, forceExit: false };
  }
  const cases = selectByTags(all, cmd.tags);
  if (cases.length === 0) {
    io.stderr.write(`keel eval: no case has any of the tags ${cmd.tags?.join(', ')} (${all.length} cases in the dataset)\n`);
    return { code: 2, forceExit: false };
  }
  let baseline: Baseline | undefined;
  if (cmd.baseline) {
    try {
      baseline = loadBaseline(cmd.baseline);
    } catch (err) {
      if (!(err instanceof BaselineError)) throw err;
      io.stderr.write(`keel eval: ${err.message}\n`);
      return { code: 2, forceExit: false };
    }
  }

  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const started = Date.now();
  io.stderr.write(`keel eval: ${cases.length} case${cases.length === 1 ? '' : 's'}${cmd.tags ? ` (tags ${cmd.tags.join(', ')}; ${all.length} in the dataset)` : ''} from ${files.map(shown).join(', ')} against ${cfg.url}, concurrency ${cmd.concurrency}\n`);
  const progress = new Progress(cases.length, io.stderr, Date.now, started);
  progress.start();
  const runner = new EvalRunner(io.client ?? keelEvalClient(cfg), {
    concurrency: cmd.concurrency, judgeAgent: cmd.judgeAgent, runId, onResult: (r) => progress.tick(r.pass),
  });
  let outcome;
  try {
    outcome = await runner.run(cases);
  } finally {
    progress.finish();
  }
  const finished = Date.now();
  const comparison = baseline ? compareBaseline(baseline, outcome.results, shown(cmd.baseline!)) : undefined;
  const report = buildReport(outcome.results, {
    dataset: cmd.datasets.map(shown), files: files.map(shown), keelUrl: cfg.url, runId, startedAt: started, finishedAt: finished,
    concurrency: cmd.concurrency, judgeAgent: cmd.judgeAgent, tags: cmd.tags ?? [],
  }, comparison);

  const jsonToStdout = cmd.jsonFile === '-';
  const text = formatReport(report, io.style);
  if (jsonToStdout) {
    io.stderr.write(`${text}\n`);
    io.stdout(JSON.stringify(report, null, 2));
  } else {
    io.stdout(text);
  }
  if (cmd.jsonFile && !jsonToStdout) {
    writeFileSync(cmd.jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    io.stderr.write(`JSON report: ${shown(cmd.jsonFile)}\n`);
  }
  if (cmd.htmlFile) {
    writeFileSync(cmd.htmlFile, renderHtml(report));
    io.stderr.write(`HTML report: ${shown(cmd.htmlFile)}\n`);
  }
  if (cmd.saveBaseline) {
    saveBaseline(cmd.saveBaseline, baselineFrom(outcome.results, cmd.datasets.map(shown)));
    io.stderr.write(`baseline saved: ${shown(cmd.saveBaseline)} (${outcome.results.length} cases)\n`);
  }
  return { code: report.exitCode, forceExit: outcome.openStreams > 0 };
}
