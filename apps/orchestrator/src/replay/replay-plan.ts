import { z } from 'zod';
import type { Agent, ChatMessage } from '@keel/contracts';
import { MEMORY_RULE } from '../memory/context-assembler';
import { SPOTLIGHT_RULE } from '../steps/spotlight';

/**
 * Replay (docs/replay.md), the pure part: what a replay task stores in its
 * metadata, how that changes the agent it runs, where its transcript is cut,
 * and which recorded ledger key stands behind each of its tool calls.
 */

/** Reserved metadata key of a replay task (a submitted task may not set it). */
export const REPLAY_KEY = 'replay';

const MODEL_ID = /^[a-z0-9_-]+\/.+$/;
const AGENT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Body of `POST /v1/tasks/{id}/replay`. The range of `fromStep` depends on the task: checked by the service. */
export const ReplayRequestSchema = z.object({
  fromStep: z.number().int('fromStep must be a whole number'),
  model: z.string().regex(MODEL_ID, 'model ids are provider/model, e.g. scripted/default').max(200).optional(),
  systemPrompt: z.string().min(1).max(100_000).optional(),
  agent: z.string().regex(AGENT_NAME, 'agent must be a lowercase name such as "demo"').optional(),
  /** Merged over the original's metadata (top-level keys replace); e.g. a new `script` for the scripted model. */
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** Run every tool call for real (under the replay's own keys) instead of returning recorded results. */
  liveTools: z.boolean().optional(),
}).strict();
export type ReplayRequest = z.infer<typeof ReplayRequestSchema>;

/** One range of a task's lineage: its calls of steps up to `toStep` (null: every later step) are in this task's ledger. */
export interface LedgerSource {
  taskId: string;
  toStep: number | null;
}

const LedgerSourceSchema = z.object({ taskId: z.string(), toStep: z.number().int().nullable() });

/** `metadata.replay` of a replay task. */
export const ReplayMetaSchema = z.object({
  of: z.string(),
  fromStep: z.number().int().nonnegative(),
  /** Messages copied from the original: its transcript up to the end of step `fromStep`. */
  messageCount: z.number().int().nonnegative(),
  /** The scripted model's cursor at the start (0 with a new script). */
  modelCalls: z.number().int().nonnegative().optional(),
  model: z.string().optional(),
  systemPrompt: z.string().optional(),
  agent: z.string().optional(),
  liveTools: z.boolean(),
  /** Where the original run's calls are recorded, by step (the original's lineage). */
  recorded: z.array(LedgerSourceSchema).min(1),
});
export type ReplayMeta = z.infer<typeof ReplayMetaSchema>;

/** The replay part of a task's metadata; undefined for an ordinary task (or a malformed value). */
export function replayMeta(metadata: Record<string, unknown> | null | undefined): ReplayMeta | undefined {
  const raw = metadata?.[REPLAY_KEY];
  if (raw === undefined) return undefined;
  const parsed = ReplayMetaSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** The agent as a replay task runs it: the replay's model and system prompt replace the agent's, for this task only. */
export function withReplayOverrides<A extends Pick<Agent, 'model' | 'systemPrompt'>>(agent: A, metadata: Record<string, unknown> | null | undefined): A {
  const r = replayMeta(metadata);
  if (!r || (r.model === undefined && r.systemPrompt === undefined)) return agent;
  return { ...agent, ...(r.model !== undefined ? { model: r.model } : {}), ...(r.systemPrompt !== undefined ? { systemPrompt: r.systemPrompt } : {}) };
}

/** The system message of a task: the agent's prompt plus the rules for untrusted data it will see (the step runner's step 1). */
export function systemContent(agent: Pick<Agent, 'systemPrompt' | 'tools'>, conversationId: string | null): string {
  const rules = [...(agent.tools.length > 0 ? [SPOTLIGHT_RULE] : []), ...(conversationId ? [MEMORY_RULE] : [])];
  return [agent.systemPrompt, ...rules].join('\n\n');
}

/**
 * The replay's starting transcript: the original's first `messageCount`
 * messages (its transcript at the end of step N), with the system message
 * replaced when the replay changes the system prompt.
 */
export function cutTranscript(transcript: readonly ChatMessage[], messageCount: number, system?: string): ChatMessage[] {
  if (messageCount < 0 || messageCount > transcript.length) {
    throw new RangeError(`cannot cut a transcript of ${transcript.length} messages at ${messageCount}`);
  }
  const cut = transcript.slice(0, messageCount);
  if (system !== undefined && cut[0]?.role === 'system') cut[0] = { ...cut[0], content: system };
  return cut;
}

/**
 * A task's lineage: for each step, the task whose ledger holds the calls its
 * transcript reflects. An ordinary task is its own; a replay's steps up to its
 * `fromStep` are its original's (recursively), the later ones its own.
 */
export function lineageOf(taskId: string, metadata: Record<string, unknown> | null | undefined): LedgerSource[] {
  const r = replayMeta(metadata);
  if (!r) return [{ taskId, toStep: null }];
  const inherited: LedgerSource[] = [];
  for (const s of r.recorded) {
    const prev = inherited.at(-1)?.toStep ?? 0;
    if (prev >= r.fromStep) break;
    const toStep = s.toStep === null ? r.fromStep : Math.min(s.toStep, r.fromStep);
    if (toStep > prev) inherited.push({ taskId: s.taskId, toStep });
  }
  return [...inherited, { taskId, toStep: null }];
}

/** The task of a lineage whose ledger holds step `step`. */
export function sourceFor(lineage: readonly LedgerSource[], step: number): string {
  return (lineage.find((s) => s.toStep === null || step <= s.toStep) ?? lineage[lineage.length - 1]).taskId;
}

/**
 * The recorded key a replay task's call at (step, index) is compared with; undefined
 * when the task is not a replay or runs its tools live.
 */
export function recordedKey(metadata: Record<string, unknown> | null | undefined, step: number, index: number): string | undefined {
  const r = replayMeta(metadata);
  if (!r || r.liveTools) return undefined;
  return `${sourceFor(r.recorded, step)}:${step}:${index}`;
}

/** The task is a replay of another (it has `metadata.replay`). */
export const isReplay = (metadata: Record<string, unknown> | null | undefined): boolean => replayMeta(metadata) !== undefined;
