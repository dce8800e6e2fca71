import type { SubmitTask, TaskEvent, TaskView } from '@keel/contracts';
import { errorFromResponse, KeelClient, networkReason } from '../api';
import { ConnectError } from '../api';
import type { CliConfig } from '../config';
import { followEvents } from '../follow';
import { DEFAULT_CASE_TIMEOUT_MS } from './dataset';
import type { EvalCase } from './dataset';
import { expectedStatus, isTerminalStatus, judgePrompt, oneLine, parseJudgeAnswer, scoreCase } from './scorers';
import type { Observation, ScorerName, ScorerResult } from './scorers';

/**
 * Runs cases against a running Keel, `concurrency` at a time (a case waits for
 * the cases in its `dependsOn`): submit, follow the task's events to its
 * terminal event (or poll until an expected non-terminal status such as
 * `waiting_approval` is reached), score, and ask the judge when the case has
 * criteria. A task still active when its case is done (parked, or over its
 * timeoutMs) is cancelled, so an eval run leaves nothing waiting behind it.
 */
export interface EvalClient {
  submit(body: SubmitTask): Promise<{ id: string; status: string }>;
  task(id: string): Promise<TaskView>;
  cancel(id: string): Promise<void>;
  /** The task's events until its terminal event. */
  follow(id: string): AsyncIterable<TaskEvent>;
}

export interface JudgeResult {
  agent: string;
  taskId?: string;
  score?: number;
  pass: boolean;
  reason: string;
  costUsd: number;
}

export interface CaseResult {
  id: string;
  tags: string[];
  agent?: string;
  source: string;
  /** The input as submitted (after `{{run}}` substitution). */
  input: string;
  taskId?: string;
  status: string;
  output: string | null;
  error: { code: string; message: string } | null;
  pass: boolean;
  scorers: ScorerResult[];
  failed: ScorerName[];
  /** Submission to terminal status (server clock), else to when the case was judged. */
  latencyMs: number;
  steps: number;
  costUsd: number;
  judge?: JudgeResult;
  /** The task was still active when its case was done and was cancelled. */
  cancelled?: boolean;
  events: number;
}

export interface RunOptions {
  concurrency: number;
  judgeAgent: string;
  /** Replaces `{{run}}` in input, userId and conversationId. */
  runId: string;
  pollMs?: number;
  /** How long to wait for an event stream to end after its task was cancelled. */
  drainMs?: number;
  judgeTimeoutMs?: number;
  onResult?: (r: CaseResult) => void;
}

export interface RunOutcome {
  results: CaseResult[];
  /** Event streams that did not end (a task that could not be cancelled); their sockets may keep the process alive. */
  openStreams: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const fill = (s: string | undefined, runId: string): string | undefined => s?.replaceAll('{{run}}', runId);

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

type Settled = { state: 'done' } | { state: 'failed'; error: unknown } | { state: 'timeout' };

/** Resolves with how `p` settled, or `timeout` after `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<Settled> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled>((r) => {
    timer = setTimeout(() => r({ state: 'timeout' }), ms);
  });
  try {
    return await Promise.race([p.then((): Settled => ({ state: 'done' }), (error: unknown): Settled => ({ state: 'failed', error })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function collect(stream: AsyncIterable<TaskEvent>, into: TaskEvent[]): Promise<void> {
  for await (const e of stream) into.push(e);
}

interface Waited {
  view: TaskView;
  status: string;
  timedOutAfterMs?: number;
  events: TaskEvent[];
  eventsDone: Promise<unknown>;
  observedAt: number;
}

/** Waits until the task is terminal, or has reached `want` (non-terminal), or `timeoutMs` passed. */
async function waitForTask(client: EvalClient, id: string, want: string, timeoutMs: number, pollMs: number): Promise<Waited> {
  const started = Date.now();
  const events: TaskEvent[] = [];
  if (isTerminalStatus(want)) {
    const eventsDone = collect(client.follow(id), events);
    const r = await within(eventsDone, timeoutMs);
    if (r.state === 'done') {
      const view = await client.task(id);
      return { view, status: view.status, events, eventsDone, observedAt: Date.now() };
    }
    if (r.state === 'failed') {
      // The event stream failed (e.g. a proxy in the way): poll the status instead.
      const view = await poll(client, id, want, started + timeoutMs, pollMs);
      const timedOut = !isTerminalStatus(view.status);
      return { view, status: view.status, events, eventsDone: Promise.resolve(), observedAt: Date.now(), ...(timedOut ? { timedOutAfterMs: timeoutMs } : {}) };
    }
    const view = await client.task(id);
    if (isTerminalStatus(view.status)) {
      // It ended just now; give the stream a moment to deliver the terminal event.
      await within(eventsDone, 2_000);
      return { view, status: view.status, events, eventsDone, observedAt: Date.now() };
    }
    return { view, status: view.status, events, eventsDone, observedAt: Date.now(), timedOutAfterMs: timeoutMs };
  }
  const view = await poll(client, id, want, started + timeoutMs, pollMs);
  const reached = view.status === want || isTerminalStatus(view.status);
  return { view, status: view.status, events, eventsDone: Promise.resolve(), observedAt: Date.now(), ...(reached ? {} : { timedOutAfterMs: timeoutMs }) };
}

async function poll(client: EvalClient, id: string, want: string, deadline: number, pollMs: number): Promise<TaskView> {
  for (;;) {
    const view = await client.task(id);
    if (view.status === want || isTerminalStatus(view.status) || Date.now() >= deadline) return view;
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}

function latencyOf(view: TaskView, submittedAt: number, observedAt: number): number {
  if (view.finishedAt && view.createdAt) {
    const ms = Date.parse(view.finishedAt) - Date.parse(view.createdAt);
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  return observedAt - submittedAt;
}

export class EvalRunner {
  private openStreams = 0;

  constructor(private readonly client: EvalClient, private readonly opts: RunOptions) {}

  /** Runs every case (dependencies first), `concurrency` at a time; results in the cases' order. */
  async run(cases: readonly EvalCase[]): Promise<RunOutcome> {
    const selected = new Set(cases.map((c) => c.id));
    const results = new Map<string, CaseResult>();
    const finished = new Set<string>();
    const waiting = [...cases];
    let running = 0;
    await new Promise<void>((resolve, reject) => {
      const pump = (): void => {
        if (waiting.length === 0 && running === 0) {
          resolve();
          return;
        }
        while (running < Math.max(1, this.opts.concurrency)) {
          const at = waiting.findIndex((c) => (c.dependsOn ?? []).every((d) => !selected.has(d) || finished.has(d)));
          if (at === -1) break;
          const [c] = waiting.splice(at, 1);
          running++;
          this.runCase(c).then((r) => {
            results.set(c.id, r);
            finished.add(c.id);
            running--;
            this.opts.onResult?.(r);
            pump();
          }, reject);
        }
      };
      pump();
    });
    return { results: cases.map((c) => results.get(c.id)!), openStreams: this.openStreams };
  }

  async runCase(c: EvalCase): Promise<CaseResult> {
    const runId = this.opts.runId;
    const input = fill(c.input, runId)!;
    const base = {
      id: c.id, tags: c.tags ?? [], agent: c.agent, source: `${c.source.file}:${c.source.line}`, input,
    };
    const body: SubmitTask = {
      input,
      ...(c.agent ? { agent: c.agent } : {}),
      ...(c.userId ? { userId: fill(c.userId, runId) } : {}),
      ...(c.conversationId ? { conversationId: fill(c.conversationId, runId) } : {}),
      metadata: { ...c.metadata, evalCase: c.id, evalRun: runId },
    };
    const submittedAt = Date.now();
    let id: string;
    try {
      id = (await this.client.submit(body)).id;
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      return this.broken(base, `submit failed: ${message(err)}`, Date.now() - submittedAt);
    }
    let waited: Waited;
    try {
      waited = await waitForTask(this.client, id, expectedStatus(c.expected), c.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS, this.opts.pollMs ?? 200);
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      return { ...this.broken(base, `following task ${id} failed: ${message(err)}`, Date.now() - submittedAt), taskId: id };
    }
    const { view } = waited;
    let cancelled = false;
    let events = waited.events;
    const followed = isTerminalStatus(expectedStatus(c.expected));
    // Parked (waiting_approval) or over time: cancel it; the event stream then ends at task.cancelled.
    if (!isTerminalStatus(view.status)) cancelled = await this.client.cancel(id).then(() => true, () => false);
    if (followed) {
      if (!isTerminalStatus(view.status)) await this.drain(waited.eventsDone);
    } else {
      // Polled to a non-terminal status: read the whole event log now.
      const all: TaskEvent[] = [];
      await this.drain(collect(this.client.follow(id), all));
      events = all;
    }
    const obs: Observation = {
      taskId: id, status: waited.status, output: view.output, error: view.error ? { code: view.error.code, message: view.error.message } : null,
      events, script: c.metadata?.script, ...(waited.timedOutAfterMs !== undefined ? { timedOutAfterMs: waited.timedOutAfterMs } : {}),
    };
    const scorers = scoreCase(c, obs);
    let judge: JudgeResult | undefined;
    if (c.expected?.criteria) {
      judge = await this.judge(c, input, view.output, c.expected.criteria);
      scorers.push({ scorer: 'judge', pass: judge.pass, reason: judge.reason, ...(judge.score !== undefined ? { score: judge.score } : {}) });
    }
    const failed = scorers.filter((s) => !s.pass).map((s) => s.scorer);
    return {
      ...base, taskId: id, status: waited.status, output: view.output, error: obs.error, pass: failed.length === 0, scorers, failed,
      latencyMs: latencyOf(view, submittedAt, waited.observedAt), steps: view.steps ?? 0, costUsd: view.usage?.costUsd ?? 0,
      ...(judge ? { judge } : {}), ...(cancelled ? { cancelled } : {}), events: events.length,
    };
  }

  private async drain(p: Promise<unknown>): Promise<void> {
    const r = await within(p, this.opts.drainMs ?? 5_000);
    if (r.state === 'timeout') this.openStreams++;
  }

  private broken(base: Omit<CaseResult, 'status' | 'output' | 'error' | 'pass' | 'scorers' | 'failed' | 'latencyMs' | 'steps' | 'costUsd' | 'events'>, reason: string, latencyMs: number): CaseResult {
    return { ...base, status: 'error', output: null, error: null, pass: false, scorers: [{ scorer: 'run', pass: false, reason }], failed: ['run'], latencyMs, steps: 0, costUsd: 0, events: 0 };
  }

  /** The judge is a Keel task on the judge agent: routed, priced and budgeted like any call. */
  private async judge(c: EvalCase, input: string, output: string | null, criteria: string): Promise<JudgeResult> {
    const agent = c.judge?.agent ?? this.opts.judgeAgent;
    const body: SubmitTask = {
      input: judgePrompt(input, output, criteria), agent,
      metadata: { ...c.judge?.metadata, evalCase: c.id, evalRun: this.opts.runId, evalRole: 'judge' },
    };
    let id: string;
    try {
      id = (await this.client.submit(body)).id;
    } catch (err) {
      if (err instanceof ConnectError) throw err;
      return { agent, pass: false, reason: `judge task could not be submitted to agent "${agent}": ${message(err)}`, costUsd: 0 };
    }
    const timeoutMs = this.opts.judgeTimeoutMs ?? 120_000;
    const waited = await waitForTask(this.client, id, 'succeeded', timeoutMs, this.opts.pollMs ?? 200);
    const view = waited.view;
    const costUsd = view.usage?.costUsd ?? 0;
    if (!isTerminalStatus(view.status)) {
      await this.client.cancel(id).catch(() => undefined);
      await this.drain(waited.eventsDone);
      return { agent, taskId: id, pass: false, reason: `judge task ${id} did not finish within ${timeoutMs} ms (status ${view.status})`, costUsd };
    }
    if (view.status !== 'succeeded') {
      const err = view.error ? `: ${view.error.code}: ${oneLine(view.error.message, 200)}` : '';
      return { agent, taskId: id, pass: false, reason: `judge task ${id} ${view.status}${err}`, costUsd };
    }
    const parsed = parseJudgeAnswer(view.output);
    if (!parsed.ok) return { agent, taskId: id, pass: false, reason: parsed.reason, costUsd };
    const { score, pass, reason } = parsed.verdict;
    return { agent, taskId: id, score, pass, reason: reason || (pass ? 'the judge passed it' : 'the judge failed it'), costUsd };
  }
}

/** The client of a running Keel: the CLI's KeelClient and event follower, plus cancel. */
export function keelEvalClient(cfg: CliConfig): EvalClient {
  const client = new KeelClient(cfg);
  return {
    submit: (body) => client.submit(body),
    task: (id) => client.task(id),
    follow: (id) => followEvents(client, id),
    cancel: async (id) => {
      let res: Response;
      try {
        res = await fetch(`${cfg.url}/v1/tasks/${encodeURIComponent(id)}/cancel`, {
          method: 'POST', headers: { authorization: `Bearer ${cfg.apiKey}`, accept: 'application/json' }, signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        throw new ConnectError(cfg.url, networkReason(err));
      }
      const text = await res.text();
      if (!res.ok) throw errorFromResponse(res.status, text);
    },
  };
}
