import type { ChatMessage, ToolCall } from '@keel/contracts';

/**
 * Loop and no-progress detection over the transcript (design.md: the same
 * tool with the same arguments 3 times in a row → a "you are repeating
 * yourself" hint instead of running it; still repeating → fail with
 * `loop_detected`). No progress: the same calls with the same results seen a
 * third time anywhere in the task (a cycle that came round twice) → fail with
 * `no_progress`.
 */
export const LOOP_HINT_MARKER = 'you are repeating yourself';
export const LOOP_THRESHOLD = 3;
export const NO_PROGRESS_OCCURRENCES = 3;

const canon = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canon(x)])) : v;

export const callsSignature = (calls: readonly ToolCall[]): string => JSON.stringify(calls.map((c) => [c.name, canon(c.arguments)]));

interface Round {
  signature: string;
  results: string[];
}

/** Assistant tool-call turns with the tool messages that answered them, oldest first. */
function rounds(transcript: readonly ChatMessage[]): Round[] {
  const out: Round[] = [];
  for (const m of transcript) {
    if (m.role === 'assistant' && m.toolCalls?.length) out.push({ signature: callsSignature(m.toolCalls), results: [] });
    else if (m.role === 'tool' && out.length) out[out.length - 1].results.push(m.content);
  }
  return out;
}

export type LoopVerdict = { action: 'run' } | { action: 'hint'; repeats: number } | { action: 'fail'; repeats: number };

export function checkRepetition(transcript: readonly ChatMessage[], calls: readonly ToolCall[]): LoopVerdict {
  const signature = callsSignature(calls);
  const past = rounds(transcript);
  let repeats = 1;
  let hinted = false;
  for (let i = past.length - 1; i >= 0 && past[i].signature === signature; i--) {
    repeats++;
    if (past[i].results.some((r) => r.includes(LOOP_HINT_MARKER))) hinted = true;
  }
  if (repeats < LOOP_THRESHOLD) return { action: 'run' };
  return hinted ? { action: 'fail', repeats } : { action: 'hint', repeats };
}

const fingerprint = (signature: string, results: readonly string[]): string => `${signature}\u0000${JSON.stringify(results)}`;

/** How many earlier rounds had exactly these calls and these results. */
export function earlierOccurrences(transcript: readonly ChatMessage[], calls: readonly ToolCall[], results: readonly string[]): number {
  const fp = fingerprint(callsSignature(calls), results);
  return rounds(transcript).filter((r) => fingerprint(r.signature, r.results) === fp).length;
}

export function loopHint(name: string, repeats: number): string {
  return `error (loop_detected): ${LOOP_HINT_MARKER}: ${name} was called with the same arguments ${repeats} times in a row, so it was not run again. Use the results you already have, try something different, or give your final answer.`;
}
