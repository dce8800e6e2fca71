import { writeFileSync } from 'node:fs';
import { ConnectError, errorFromResponse, networkReason } from './api';
import type { CliConfig } from './config';
import { EvalCaseSchema } from './eval/dataset';
import type { EvalCaseInput } from './eval/dataset';

/**
 * `keel feedback-candidates`: thumbs-down tasks (feedback score −1) as
 * candidate `keel eval` cases, for a person to review before they join a
 * dataset. Each case keeps the task's input, agent, userId and
 * conversationId, is tagged `feedback` and `needs-review`, and carries the
 * user's comment as a rubric hint in `expected.criteria` (no expected output:
 * the rejected answer is what *not* to match, so a reviewer writes the rest).
 */
export interface FeedbackCandidatesCommand {
  cmd: 'feedback-candidates';
  since?: string;
  agent?: string;
  limit: number;
  /** Write the JSONL here; stdout when absent. */
  out?: string;
}

/** One entry of `GET /v1/feedback` (apps/orchestrator/src/feedback). */
export interface FeedbackItem {
  taskId: string;
  score: number;
  comment: string | null;
  at: string;
  agent: string;
  input: string;
  output: string | null;
  userId: string | null;
  conversationId: string | null;
  variant?: string | null;
}

const EXCERPT = 400;
const excerpt = (s: string): string => (s.length > EXCERPT ? `${s.slice(0, EXCERPT)}…` : s);

/** The rubric hint: what the user objected to, and (for the reviewer) the answer they rejected. */
export function criteriaFor(comments: string[], output: string | null): string {
  const said = comments.map((c) => c.trim()).filter(Boolean);
  const complaint = said.length > 0
    ? `A user rated an earlier answer thumbs-down and said: ${said.map((c) => JSON.stringify(excerpt(c))).join('; ')}. A good answer does not have that problem.`
    : 'A user rated an earlier answer thumbs-down without a comment. Reviewer: state what a good answer must do.';
  return output ? `${complaint} The rejected answer began: ${JSON.stringify(excerpt(output))}` : complaint;
}

/**
 * Turns feedback entries into eval cases, one per task (several thumbs-down
 * on one task are merged, comments oldest first), in the order given.
 * Every case is checked against the eval case schema.
 */
export function toCandidates(items: FeedbackItem[]): EvalCaseInput[] {
  const byTask = new Map<string, { item: FeedbackItem; comments: string[] }>();
  for (const item of items) {
    if (item.score !== -1) continue;
    const entry = byTask.get(item.taskId) ?? { item, comments: [] };
    if (item.comment) entry.comments.unshift(item.comment);
    byTask.set(item.taskId, entry);
  }
  return [...byTask.values()].map(({ item, comments }) => {
    const c: EvalCaseInput = {
      id: `feedback-${item.taskId}`,
      input: item.input,
      agent: item.agent,
      ...(item.userId ? { userId: item.userId } : {}),
      ...(item.conversationId ? { conversationId: item.conversationId } : {}),
      tags: ['feedback', 'needs-review'],
      expected: { criteria: criteriaFor(comments, item.output) },
    };
    EvalCaseSchema.parse(c); // a candidate the eval runner would refuse is a bug here, not the reviewer's problem
    return c;
  });
}

async function fetchFeedback(cfg: CliConfig, cmd: FeedbackCandidatesCommand): Promise<FeedbackItem[]> {
  const q = new URLSearchParams({ score: '-1', limit: String(cmd.limit) });
  if (cmd.since) q.set('since', cmd.since);
  if (cmd.agent) q.set('agent', cmd.agent);
  let res: Response;
  try {
    res = await fetch(`${cfg.url}/v1/feedback?${q.toString()}`, {
      headers: { authorization: `Bearer ${cfg.apiKey}`, accept: 'application/json' }, signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new ConnectError(cfg.url, networkReason(err));
  }
  const text = await res.text();
  if (!res.ok) throw errorFromResponse(res.status, text);
  return (JSON.parse(text) as { items: FeedbackItem[] }).items;
}

/** Runs the command: JSONL to `--out` (or stdout), a one-line summary to stderr. */
export async function runFeedbackCandidates(cmd: FeedbackCandidatesCommand, cfg: CliConfig, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number> {
  const items = await fetchFeedback(cfg, cmd);
  const cases = toCandidates(items);
  const jsonl = cases.map((c) => JSON.stringify(c)).join('\n') + (cases.length > 0 ? '\n' : '');
  if (cmd.out) writeFileSync(cmd.out, jsonl);
  else if (jsonl) io.stdout(jsonl.replace(/\n$/, ''));
  const where = cmd.out ? ` to ${cmd.out}` : '';
  io.stderr(`${cases.length} candidate case${cases.length === 1 ? '' : 's'} from ${items.length} thumbs-down feedback entr${items.length === 1 ? 'y' : 'ies'}${where}; review them (tags: needs-review) before adding them to a dataset.${items.length >= cmd.limit ? ` The limit (${cmd.limit}) was reached: use --since or --limit for more.` : ''}`);
  return 0;
}
