import { z } from 'zod';
import { TERMINAL_STATUSES } from '@keel/contracts';
import type { TaskEvent, TaskStatus } from '@keel/contracts';
import type { EvalCase, EventExpectation, Expected, ToolCallExpectation } from './dataset';
import { brief, compileRegex, compileSchema, firstMismatch, partialMatch, schemaErrors } from './match';

/**
 * The scorers of `keel eval`: pure functions of a case and what the task did
 * (status, output, error, events). The LLM judge's prompt and the parsing of
 * its answer live here too; running the judge task is the runner's job.
 */
export const SCORERS = ['status', 'exact', 'regex', 'jsonSchema', 'error', 'toolCalls', 'events', 'eventsAbsent', 'judge', 'run'] as const;
export type ScorerName = (typeof SCORERS)[number];

export interface ScorerResult {
  scorer: ScorerName;
  pass: boolean;
  /** Why it failed (or, for the judge, its reason either way). */
  reason?: string;
  /** 0..1 where the scorer grades rather than checks (tool-use accuracy, the judge). */
  score?: number;
}

/** What one task did, as the scorers see it. */
export interface Observation {
  taskId?: string;
  /** The status the case is judged on: the terminal one, or the expected non-terminal one once reached, or the last seen at a time-out. */
  status: string;
  output: string | null;
  error: { code: string; message: string } | null;
  events: TaskEvent[];
  /** The scripted turns the task was given (metadata.script): where tool-call arguments come from when the events do not carry them. */
  script?: unknown;
  /** The case's timeoutMs ran out before the task reached its expected or a terminal status. */
  timedOutAfterMs?: number;
}

export const isTerminalStatus = (s: string): boolean => (TERMINAL_STATUSES as readonly string[]).includes(s);

/** The status a case expects: given, else `failed` when it expects an error, else `succeeded`. */
export function expectedStatus(expected: Expected | undefined): TaskStatus {
  return expected?.status ?? (expected?.error ? 'failed' : 'succeeded');
}

export function scoreStatus(expected: Expected | undefined, obs: Observation): ScorerResult {
  const want = expectedStatus(expected);
  if (obs.timedOutAfterMs !== undefined && obs.status !== want) {
    return { scorer: 'status', pass: false, reason: `no ${isTerminalStatus(want) ? 'terminal status' : `"${want}"`} within ${obs.timedOutAfterMs} ms (last status ${obs.status}); raise the case's timeoutMs if it is just slow` };
  }
  if (obs.status === want) return { scorer: 'status', pass: true };
  const err = obs.error ? ` (${obs.error.code}: ${oneLine(obs.error.message, 160)})` : '';
  return { scorer: 'status', pass: false, reason: `expected status ${want}, got ${obs.status}${err}` };
}

export function scoreExact(want: string, obs: Observation): ScorerResult {
  if (obs.output === null) return { scorer: 'exact', pass: false, reason: `no output (status ${obs.status})` };
  if (obs.output.trim() === want.trim()) return { scorer: 'exact', pass: true };
  return { scorer: 'exact', pass: false, reason: `expected ${brief(want.trim(), 120)}, got ${brief(obs.output.trim(), 120)}` };
}

export function scoreRegex(pattern: string, obs: Observation): ScorerResult {
  if (obs.output === null) return { scorer: 'regex', pass: false, reason: `no output (status ${obs.status})` };
  const re = compileRegex(pattern);
  if (re.test(obs.output)) return { scorer: 'regex', pass: true };
  return { scorer: 'regex', pass: false, reason: `output does not match ${re.toString()}: ${brief(obs.output, 120)}` };
}

export function scoreJsonSchema(schema: Record<string, unknown>, obs: Observation): ScorerResult {
  if (obs.output === null) return { scorer: 'jsonSchema', pass: false, reason: `no output (status ${obs.status})` };
  let value: unknown;
  try {
    value = JSON.parse(obs.output);
  } catch (err) {
    return { scorer: 'jsonSchema', pass: false, reason: `output is not JSON (${(err as Error).message}): ${brief(obs.output, 80)}` };
  }
  const validate = compileSchema(schema);
  if (validate(value)) return { scorer: 'jsonSchema', pass: true };
  return { scorer: 'jsonSchema', pass: false, reason: `output does not satisfy the schema: ${schemaErrors(validate)}` };
}

export function scoreError(want: NonNullable<Expected['error']>, obs: Observation): ScorerResult {
  if (!obs.error) return { scorer: 'error', pass: false, reason: `expected an error${want.code ? ` ${want.code}` : ''}, the task has none (status ${obs.status})` };
  if (want.code !== undefined && obs.error.code !== want.code) {
    return { scorer: 'error', pass: false, reason: `expected error ${want.code}, got ${obs.error.code}: ${oneLine(obs.error.message, 160)}` };
  }
  if (want.message !== undefined && !compileRegex(want.message).test(obs.error.message)) {
    return { scorer: 'error', pass: false, reason: `error message does not match ${compileRegex(want.message).toString()}: ${oneLine(obs.error.message, 160)}` };
  }
  return { scorer: 'error', pass: true };
}

/** One tool call the model made, and what became of it. */
export interface ActualToolCall {
  step: number;
  index: number;
  name: string;
  /** undefined: not observable (no arguments in the events and no script to read them from). */
  arguments?: Record<string, unknown>;
  /** `ok`, or why it did not run successfully. */
  outcome: string;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined);

interface ScriptToolTurn {
  names: string[];
  args: Record<string, unknown>[];
  hasCalls: boolean;
}

function scriptTurns(script: unknown): ScriptToolTurn[] {
  if (!Array.isArray(script)) return [];
  return script.flatMap((t) => {
    const turn = obj(t);
    if (!turn || turn.fault !== undefined) return [];
    const calls = Array.isArray(turn.toolCalls) ? turn.toolCalls.map(obj).filter((c): c is Record<string, unknown> => !!c) : [];
    return [{ names: calls.map((c) => String(c.name)), args: calls.map((c) => obj(c.arguments) ?? {}), hasCalls: calls.length > 0 }];
  });
}

/**
 * The model's tool calls, in order, from the task's events: each
 * `model.completed` names the calls of its turn; `tool.completed` (or
 * `loop.hint`, `policy.blocked`, `tool.rejected`, `approval.requested`) says
 * what became of each. Arguments come from the events when they carry them,
 * else from the task's scripted turns (matched turn by turn by tool names).
 */
export function actualToolCalls(events: readonly TaskEvent[], script?: unknown): ActualToolCall[] {
  const turns = scriptTurns(script);
  let cursor = 0;
  let step = 0;
  const calls: ActualToolCall[] = [];
  for (const e of events) {
    const s = num(e.data.step);
    if (e.type === 'step.started' && s !== undefined) step = s;
    if (e.type !== 'model.completed') continue;
    const names = Array.isArray(e.data.toolCalls) ? e.data.toolCalls.map((n) => (typeof n === 'string' ? n : String(obj(n)?.name))) : [];
    if (names.length === 0) {
      const next = turns.findIndex((t, i) => i >= cursor && !t.hasCalls);
      if (next !== -1) cursor = next + 1;
      continue;
    }
    const at = turns.findIndex((t, i) => i >= cursor && t.names.length === names.length && t.names.every((n, j) => n === names[j]));
    const fromScript = at === -1 ? undefined : turns[at];
    if (at !== -1) cursor = at + 1;
    const fromEvent = Array.isArray(e.data.toolCalls) ? e.data.toolCalls.map((c) => obj(obj(c)?.arguments)) : [];
    for (const [index, name] of names.entries()) {
      calls.push({ step, index, name, arguments: fromEvent[index] ?? fromScript?.args[index], outcome: 'not run' });
    }
  }
  // What became of each call.
  for (const e of events) {
    const s = num(e.data.step);
    const i = num(e.data.index);
    const match = (c: ActualToolCall) => c.step === s && (i === undefined ? c.name === e.data.tool : c.index === i);
    const call = s === undefined ? undefined : calls.find(match);
    if (!call) continue;
    const args = obj(e.data.arguments);
    if (args && (e.type === 'tool.completed' || e.type === 'policy.blocked')) call.arguments = args;
    switch (e.type) {
      case 'tool.completed': {
        const err = obj(e.data.error);
        call.outcome = e.data.ok === true ? 'ok' : `failed${typeof err?.code === 'string' ? ` (${err.code})` : ''}`;
        break;
      }
      case 'loop.hint':
        call.outcome = 'not run (loop hint)';
        break;
      case 'policy.blocked':
        call.outcome = 'blocked by policy';
        break;
      case 'tool.rejected':
        call.outcome = e.data.expired === true ? 'not run (approval expired)' : 'rejected by an approver';
        break;
      case 'approval.requested':
        if (call.outcome === 'not run') call.outcome = 'waiting for approval';
        break;
      default:
        break;
    }
  }
  return calls;
}

const callText = (c: { name: string }): string => c.name;

/** Tool-use accuracy: the right tools, in order, with the right arguments (partially matched), each run (or not) as expected. */
export function scoreToolCalls(want: readonly ToolCallExpectation[], obs: Observation): ScorerResult {
  const got = actualToolCalls(obs.events, obs.script);
  const problems: string[] = [];
  let good = 0;
  for (const [i, w] of want.entries()) {
    const a = got[i];
    if (!a) {
      problems.push(`call ${i + 1}: expected ${w.name}, there was none`);
      continue;
    }
    if (a.name !== w.name) {
      problems.push(`call ${i + 1}: expected ${w.name}, got ${a.name}`);
      continue;
    }
    if (w.arguments !== undefined) {
      if (a.arguments === undefined) {
        problems.push(`call ${i + 1} (${a.name}): its arguments are not observable (the events carry none and the task has no script)`);
        continue;
      }
      const m = firstMismatch(w.arguments, a.arguments);
      if (m) {
        problems.push(`call ${i + 1} (${a.name}) arguments: ${m}`);
        continue;
      }
    }
    const wantOk = w.ok ?? true;
    if (wantOk !== (a.outcome === 'ok')) {
      problems.push(`call ${i + 1} (${a.name}): expected it ${wantOk ? 'to run' : 'not to run successfully'}, it ${a.outcome === 'ok' ? 'ran' : a.outcome}`);
      continue;
    }
    good++;
  }
  if (got.length > want.length) problems.push(`${got.length - want.length} unexpected call(s): ${got.slice(want.length).map(callText).join(', ')}`);
  const score = Math.max(want.length, got.length) === 0 ? 1 : good / Math.max(want.length, got.length);
  if (problems.length === 0) return { scorer: 'toolCalls', pass: true, score };
  return { scorer: 'toolCalls', pass: false, score, reason: `${problems.join('; ')} (calls made: ${got.map(callText).join(', ') || 'none'})` };
}

const eventMatches = (want: EventExpectation, e: TaskEvent): boolean => e.type === want.type && (want.data === undefined || partialMatch(want.data, e.data));
const eventText = (want: EventExpectation): string => `${want.type}${want.data ? ` ${brief(want.data, 100)}` : ''}`;

/** The expected events appear in order (other events may come between them). */
export function scoreEvents(want: readonly EventExpectation[], obs: Observation): ScorerResult {
  let from = 0;
  for (const w of want) {
    const at = obs.events.findIndex((e, i) => i >= from && eventMatches(w, e));
    if (at === -1) {
      const anywhere = obs.events.some((e) => eventMatches(w, e));
      const sameType = obs.events.filter((e) => e.type === w.type);
      const hint = anywhere ? ' (it is there, but before the previous expected event)'
        : sameType.length > 0 ? ` (${sameType.length} ${w.type} event(s), none matching; first: ${brief(sameType[0].data, 160)})` : '';
      return { scorer: 'events', pass: false, reason: `no event ${eventText(w)}${hint}` };
    }
    from = at + 1;
  }
  return { scorer: 'events', pass: true };
}

export function scoreEventsAbsent(unwanted: readonly EventExpectation[], obs: Observation): ScorerResult {
  for (const w of unwanted) {
    const hit = obs.events.find((e) => eventMatches(w, e));
    if (hit) return { scorer: 'eventsAbsent', pass: false, reason: `unexpected event #${hit.seq} ${hit.type} ${brief(hit.data, 120)}` };
  }
  return { scorer: 'eventsAbsent', pass: true };
}

/** Every check the case asks for except the judge (which needs a task of its own). */
export function scoreCase(c: Pick<EvalCase, 'expected'>, obs: Observation): ScorerResult[] {
  const x = c.expected;
  const out: ScorerResult[] = [scoreStatus(x, obs)];
  if (x?.output !== undefined) out.push(scoreExact(x.output, obs));
  if (x?.regex !== undefined) out.push(scoreRegex(x.regex, obs));
  if (x?.jsonSchema !== undefined) out.push(scoreJsonSchema(x.jsonSchema, obs));
  if (x?.error !== undefined) out.push(scoreError(x.error, obs));
  if (x?.toolCalls !== undefined) out.push(scoreToolCalls(x.toolCalls, obs));
  if (x?.events !== undefined) out.push(scoreEvents(x.events, obs));
  if (x?.eventsAbsent !== undefined) out.push(scoreEventsAbsent(x.eventsAbsent, obs));
  return out;
}

// --- LLM as judge ---------------------------------------------------------

/**
 * The judge's input. It passes Keel's input screening like any task input, so
 * it is worded plainly (the material to grade sits in delimited blocks; no
 * "reply with nothing else" phrasing, which injection classifiers dislike).
 * An answer that tries to talk the judge round gets the judge task blocked,
 * and the case fails, rather than a forged verdict.
 */
export function judgePrompt(input: string, output: string | null, criteria: string): string {
  return [
    'Please grade this answer.',
    '',
    '<question>',
    input,
    '</question>',
    '',
    '<answer>',
    output ?? '(the agent gave no answer)',
    '</answer>',
    '',
    '<criteria>',
    criteria,
    '</criteria>',
    '',
    'Give the verdict as one JSON object with score (0 to 1), pass (true or false) and reason (one sentence), like {"score": 0.8, "pass": true, "reason": "..."}, and no other text.',
  ].join('\n');
}

const VerdictSchema = z.object({
  score: z.number().min(0).max(1),
  pass: z.boolean(),
  reason: z.string().default(''),
});
export type JudgeVerdict = z.output<typeof VerdictSchema>;

/** The judge's answer as a verdict; a code fence or text around the object is tolerated, anything else is unparseable. */
export function parseJudgeAnswer(text: string | null): { ok: true; verdict: JudgeVerdict } | { ok: false; reason: string } {
  const raw = (text ?? '').trim();
  const unfenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(raw)?.[1] ?? raw;
  const candidates = [unfenced];
  const first = unfenced.indexOf('{');
  const last = unfenced.lastIndexOf('}');
  if (first !== -1 && last > first) candidates.push(unfenced.slice(first, last + 1));
  let why = 'not JSON';
  for (const candidate of candidates) {
    let value: unknown;
    try {
      value = JSON.parse(candidate);
    } catch {
      continue;
    }
    const parsed = VerdictSchema.safeParse(value);
    if (parsed.success) return { ok: true, verdict: parsed.data };
    why = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  }
  return { ok: false, reason: `judge answered unparseable output (${why}; expected {"score": 0..1, "pass": bool, "reason": "…"}): ${brief(raw, 120)}` };
}

export function oneLine(text: string, max: number): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
