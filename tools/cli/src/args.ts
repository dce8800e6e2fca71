import { parseArgs } from 'node:util';
import { ScriptSchema } from '@keel/contracts';
import type { FeedbackCandidatesCommand } from './feedback-candidates';

/** A mistake on the command line: printed with a pointer to `keel help`, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export type Command =
  | { cmd: 'help' }
  | {
    cmd: 'submit'; input: string; agent?: string; metadata?: Record<string, unknown>;
    idempotencyKey?: string; wait: boolean; json: boolean;
  }
  | { cmd: 'task'; id: string; json: boolean }
  | { cmd: 'events'; id: string; json: boolean }
  | { cmd: 'dead-letters'; service?: string; limit: number; json: boolean }
  | ReplayCommand
  | EvalCommand
  | FeedbackCandidatesCommand;

/** `keel replay <task> --from-step N`: re-run a recorded task from a checkpoint (src/replay.ts, docs/replay.md). */
export interface ReplayCommand {
  cmd: 'replay';
  id: string;
  fromStep: number;
  model?: string;
  systemPrompt?: string;
  agent?: string;
  metadata?: Record<string, unknown>;
  liveTools: boolean;
  wait: boolean;
  json: boolean;
}

/** `keel eval <dataset…>`: run an evaluation dataset against a running Keel (src/eval). */
export interface EvalCommand {
  cmd: 'eval';
  /** Dataset files or directories (.jsonl, .yaml, .yml). */
  datasets: string[];
  concurrency: number;
  baseline?: string;
  saveBaseline?: string;
  /** Write the JSON report here (`-`: stdout, and the table goes to stderr). */
  jsonFile?: string;
  htmlFile?: string;
  judgeAgent: string;
  /** Only cases with at least one of these tags. */
  tags?: string[];
}

export const DEFAULT_EVAL_CONCURRENCY = 4;
export const MAX_EVAL_CONCURRENCY = 64;

export const USAGE = `Usage: keel <command> [options]

Commands:
  submit "<input>"   submit a task; prints its id
      --agent <name>            agent to run (default: the server's default agent)
      --metadata '<json>'       free JSON object stored with the task
      --script '<json turns>'   turns for the scripted model (sets metadata.script)
      --idempotency-key <key>   the same key twice returns the same task
      --wait                    follow the task's events to the end; exit 0 only if it succeeded
  task <id>          show a task: status, output, error, steps, usage, traceId
  events <id>        stream a task's events until its terminal one
  replay <id>        re-run a recorded task from one of its steps; recorded tool results are reused
      --from-step <n>           keep the original's steps 1..n (0: start over), run the rest anew (required)
      --model <provider/model>  another model for the new steps
      --system-prompt <text>    another system prompt (replaces the recorded system message)
      --agent <name>            another agent
      --metadata '<json>'       merged over the original's metadata
      --script '<json turns>'   turns for the scripted model's new steps (sets metadata.script)
      --live-tools              run every tool call for real instead of reusing recorded results
      --wait                    wait for the replay, then print both runs side by side
  dead-letters       list dead letters from the KEEL_DLQ stream (straight from NATS)
      --service <name>          only letters recorded by this service
      --limit <n>               the newest n letters (default 20)
  eval <dataset>     run an evaluation dataset (.jsonl/.yaml file or directory) and score it
      --concurrency <n>         cases in parallel (default ${DEFAULT_EVAL_CONCURRENCY})
      --baseline <file>         compare with a saved baseline; exit 1 only on regressions
      --save-baseline <file>    save this run's pass/fail per case as a baseline
      --json <file>             write the JSON report (- for stdout)
      --html <file>             write a self-contained HTML report
      --judge-agent <name>      agent that grades expected.criteria (default judge)
      --tags <a,b>              only cases with one of these tags
      exit 0: all passed (with --baseline: no regression); 1: failures; 2: bad arguments or dataset
  feedback-candidates  thumbs-down tasks as candidate eval cases (JSONL, tagged needs-review)
      --since <ISO date-time>   only feedback given at or after this instant
      --agent <name>            only tasks of this agent
      --limit <n>               the newest n feedback entries (default 100, at most 1000)
      --out <file.jsonl>        write the cases here (default: stdout)
  help               show this text

Every command takes --json for machine-readable output (eval: --json <file>).

Environment:
  KEEL_URL       orchestrator base URL (default http://127.0.0.1:8080)
  KEEL_API_KEY   API key (default: KEEL_BOOTSTRAP_API_KEY, else the dev key keel-dev-key)
  NATS_URL       for dead-letters (default nats://127.0.0.1:4222)

Examples:
  keel submit "What is 2+2?" --agent demo --wait
  keel submit "hi" --agent demo --script '[{"content":"hello"}]' --wait
  keel events <id>
  keel replay <id> --from-step 2 --model openai/gpt-4o-mini --wait
  keel dead-letters --service orchestrator --limit 5
  keel eval evals/suite --concurrency 8 --baseline evals/baseline.json --html report.html`;

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** parseArgs' own messages are good ("Unknown option '--wiat'"): keep them, typed as usage errors. */
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function oneId(cmd: string, positionals: string[]): string {
  if (positionals.length !== 1 || positionals[0].trim() === '') throw new UsageError(`${cmd}: expected one task id, as in: keel ${cmd} <id>`);
  return positionals[0];
}

export function parseCommand(argv: readonly string[]): Command {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { cmd: 'help' };
    case 'submit': {
      const { values: v, positionals } = asUsage(() => parseArgs({ args: rest, strict: true, allowPositionals: true, options: {
        agent: { type: 'string' },
        metadata: { type: 'string' },
        script: { type: 'string' },
        'idempotency-key': { type: 'string' },
        wait: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      } }));
      // Unquoted words are almost certainly one input: join them rather than fail.
      const input = positionals.join(' ');
      if (input.trim() === '') throw new UsageError('submit: the task input is missing, as in: keel submit "What is 2+2?"');
      let metadata: Record<string, unknown> | undefined;
      if (typeof v.metadata === 'string') {
        const m = parseJson('--metadata', v.metadata);
        if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new UsageError('--metadata: expected a JSON object, like \'{"team":"qa"}\'');
        metadata = m as Record<string, unknown>;
      }
      if (typeof v.script === 'string') {
        const raw = parseJson('--script', v.script);
        const script = ScriptSchema.safeParse(Array.isArray(raw) ? raw : [raw]);
        if (!script.success) {
          const issue = script.error.issues[0];
          throw new UsageError(`--script: ${issue.path.length > 0 ? `turn ${issue.path.join('.')}: ` : ''}${issue.message}`);
        }
        metadata = { ...metadata, script: script.data };
      }
      return {
        cmd: 'submit',
        input,
        agent: typeof v.agent === 'string' ? v.agent : undefined,
        metadata,
        idempotencyKey: typeof v['idempotency-key'] === 'string' ? v['idempotency-key'] : undefined,
        wait: v.wait === true,
        json: v.json === true,
      };
    }
    case 'task':
    case 'events': {
      const { values: v, positionals } = asUsage(() => parseArgs({
        args: rest, strict: true, allowPositionals: true, options: { json: { type: 'boolean', default: false } },
      }));
      return { cmd, id: oneId(cmd, positionals), json: v.json === true };
    }
    case 'dead-letters': {
      const { values: v, positionals } = asUsage(() => parseArgs({ args: rest, strict: true, allowPositionals: true, options: {
        service: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
      } }));
      if (positionals.length > 0) throw new UsageError(`dead-letters: unexpected argument "${positionals[0]}"`);
      let limit = 20;
      if (typeof v.limit === 'string') {
        if (!/^\d+$/.test(v.limit) || Number(v.limit) < 1) throw new UsageError(`--limit: expected a positive whole number, got "${v.limit}"`);
        limit = Number(v.limit);
      }
      return { cmd, service: typeof v.service === 'string' ? v.service : undefined, limit, json: v.json === true };
    }
    case 'replay':
      return parseReplay(rest);
    case 'eval':
      return parseEval(rest);
    case 'feedback-candidates':
      return parseFeedbackCandidates(rest);
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

function parseEval(rest: readonly string[]): EvalCommand {
  const { values: v, positionals } = asUsage(() => parseArgs({ args: [...rest], strict: true, allowPositionals: true, options: {
    concurrency: { type: 'string' },
    baseline: { type: 'string' },
    'save-baseline': { type: 'string' },
    json: { type: 'string' },
    html: { type: 'string' },
    'judge-agent': { type: 'string' },
    tags: { type: 'string' },
  } }));
  if (positionals.length === 0 || positionals.some((p) => p.trim() === '')) {
    throw new UsageError('eval: the dataset is missing, as in: keel eval evals/suite (a .jsonl or .yaml file, or a directory of them)');
  }
  let concurrency = DEFAULT_EVAL_CONCURRENCY;
  if (typeof v.concurrency === 'string') {
    if (!/^\d+$/.test(v.concurrency) || Number(v.concurrency) < 1 || Number(v.concurrency) > MAX_EVAL_CONCURRENCY) {
      throw new UsageError(`--concurrency: expected a whole number from 1 to ${MAX_EVAL_CONCURRENCY}, got "${v.concurrency}"`);
    }
    concurrency = Number(v.concurrency);
  }
  for (const flag of ['baseline', 'save-baseline', 'json', 'html'] as const) {
    if (v[flag] === '') throw new UsageError(`--${flag}: expected a file name`);
  }
  const judgeAgent = v['judge-agent'] ?? 'judge';
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(judgeAgent)) throw new UsageError(`--judge-agent: "${judgeAgent}" is not an agent name (lowercase letters, digits, - and _)`);
  let tags: string[] | undefined;
  if (typeof v.tags === 'string') {
    tags = v.tags.split(',').map((t) => t.trim()).filter(Boolean);
    if (tags.length === 0) throw new UsageError('--tags: expected a comma-separated list, as in --tags retries,tools');
  }
  return {
    cmd: 'eval',
    datasets: positionals,
    concurrency,
    ...(v.baseline !== undefined ? { baseline: v.baseline } : {}),
    ...(v['save-baseline'] !== undefined ? { saveBaseline: v['save-baseline'] } : {}),
    ...(v.json !== undefined ? { jsonFile: v.json } : {}),
    ...(v.html !== undefined ? { htmlFile: v.html } : {}),
    judgeAgent,
    ...(tags ? { tags } : {}),
  };
}

function parseFeedbackCandidates(rest: readonly string[]): FeedbackCandidatesCommand {
  const { values: v, positionals } = asUsage(() => parseArgs({ args: [...rest], strict: true, allowPositionals: true, options: {
    since: { type: 'string' },
    agent: { type: 'string' },
    limit: { type: 'string' },
    out: { type: 'string' },
  } }));
  if (positionals.length > 0) throw new UsageError(`feedback-candidates: unexpected argument "${positionals[0]}"`);
  if (v.since !== undefined && !(/^\d{4}-\d{2}-\d{2}T/.test(v.since) && Number.isFinite(Date.parse(v.since)))) {
    throw new UsageError(`--since: expected an ISO 8601 date-time such as 2026-01-31T00:00:00Z, got "${v.since}"`);
  }
  if (v.agent !== undefined && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(v.agent)) throw new UsageError(`--agent: "${v.agent}" is not an agent name (lowercase letters, digits, - and _)`);
  let limit = 100;
  if (v.limit !== undefined) {
    if (!/^\d+$/.test(v.limit) || Number(v.limit) < 1 || Number(v.limit) > 1000) throw new UsageError(`--limit: expected a whole number from 1 to 1000, got "${v.limit}"`);
    limit = Number(v.limit);
  }
  if (v.out === '') throw new UsageError('--out: expected a file name');
  return {
    cmd: 'feedback-candidates',
    ...(v.since !== undefined ? { since: new Date(v.since).toISOString() } : {}),
    ...(v.agent !== undefined ? { agent: v.agent } : {}),
    limit,
    ...(v.out !== undefined ? { out: v.out } : {}),
  };
}

function parseReplay(rest: readonly string[]): ReplayCommand {
  const { values: v, positionals } = asUsage(() => parseArgs({ args: [...rest], strict: true, allowPositionals: true, options: {
    'from-step': { type: 'string' },
    model: { type: 'string' },
    'system-prompt': { type: 'string' },
    agent: { type: 'string' },
    metadata: { type: 'string' },
    script: { type: 'string' },
    'live-tools': { type: 'boolean', default: false },
    wait: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  } }));
  const id = oneId('replay', positionals);
  const from = v['from-step'];
  if (from === undefined) throw new UsageError('replay: --from-step is required, as in: keel replay <id> --from-step 2 (keeps steps 1-2, runs the rest anew)');
  if (!/^\d+$/.test(from)) throw new UsageError(`--from-step: expected a whole number (0 or more), got "${from}"`);
  if (v.model !== undefined && !/^[a-z0-9_-]+\/.+$/.test(v.model)) throw new UsageError(`--model: model ids are provider/model, e.g. scripted/default (got "${v.model}")`);
  if (v['system-prompt'] === '') throw new UsageError('--system-prompt: expected a non-empty prompt');
  let metadata: Record<string, unknown> | undefined;
  if (v.metadata !== undefined) {
    const m = parseJson('--metadata', v.metadata);
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new UsageError('--metadata: expected a JSON object, like \'{"team":"qa"}\'');
    metadata = m as Record<string, unknown>;
  }
  if (v.script !== undefined) {
    const raw = parseJson('--script', v.script);
    const script = ScriptSchema.safeParse(Array.isArray(raw) ? raw : [raw]);
    if (!script.success) {
      const issue = script.error.issues[0];
      throw new UsageError(`--script: ${issue.path.length > 0 ? `turn ${issue.path.join('.')}: ` : ''}${issue.message}`);
    }
    metadata = { ...metadata, script: script.data };
  }
  return {
    cmd: 'replay',
    id,
    fromStep: Number(from),
    ...(v.model !== undefined ? { model: v.model } : {}),
    ...(v['system-prompt'] !== undefined ? { systemPrompt: v['system-prompt'] } : {}),
    ...(v.agent !== undefined ? { agent: v.agent } : {}),
    ...(metadata ? { metadata } : {}),
    liveTools: v['live-tools'] === true,
    wait: v.wait === true,
    json: v.json === true,
  };
}
