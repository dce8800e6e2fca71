import type { TaskView } from '@keel/contracts';
import { ConnectError, errorFromResponse, KeelClient, networkReason } from './api';
import type { ReplayCommand } from './args';
import type { CliConfig } from './config';
import { followEvents } from './follow';
import { truncate } from './format';
import type { Style } from './format';

/**
 * `keel replay <task> --from-step N`: `POST /v1/tasks/{id}/replay`, and with
 * `--wait` the replay's end, then `GET /v1/tasks/{id}/compare` printed as the
 * two runs side by side (docs/replay.md).
 */

/** The orchestrator's `GET /v1/tasks/{id}/compare` (apps/orchestrator/src/replay/compare.ts). */
export interface Comparison {
  fromStep: number;
  overrides: { model?: string; systemPrompt?: string; agent?: string; liveTools: boolean };
  original: RunSummary | null;
  replay: RunSummary;
  steps: { step: number; shared: boolean; original: StepView | null; replay: StepView | null }[];
}
interface RunSummary {
  id: string;
  status: TaskView['status'];
  agent: string;
  steps: number;
  output: string | null;
  error: TaskView['error'];
  usage: TaskView['usage'];
}
interface StepView {
  step: number;
  model: string | null;
  calls: { index: number; name: string; arguments: Record<string, unknown>; result: string | null; ok?: boolean; replayed?: boolean; replayedFrom?: string }[];
  output: string | null;
  error?: unknown;
}

export interface ReplayAccepted {
  id: string;
  status: string;
  replayOf: string;
  fromStep: number;
}

const REQUEST_TIMEOUT_MS = 30_000;

async function call<T>(cfg: CliConfig, path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${cfg.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${cfg.apiKey}`, accept: 'application/json', ...(init.body ? { 'content-type': 'application/json' } : {}) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ConnectError(cfg.url, networkReason(err));
  }
  const text = await res.text();
  if (!res.ok) throw errorFromResponse(res.status, text);
  return JSON.parse(text) as T;
}

export async function runReplayCommand(command: ReplayCommand, cfg: CliConfig, out: { stdout: (text: string) => void; style: Style }): Promise<number> {
  const body = {
    fromStep: command.fromStep,
    ...(command.model !== undefined ? { model: command.model } : {}),
    ...(command.systemPrompt !== undefined ? { systemPrompt: command.systemPrompt } : {}),
    ...(command.agent !== undefined ? { agent: command.agent } : {}),
    ...(command.metadata !== undefined ? { metadata: command.metadata } : {}),
    ...(command.liveTools ? { liveTools: true } : {}),
  };
  const created = await call<ReplayAccepted>(cfg, `/v1/tasks/${encodeURIComponent(command.id)}/replay`, { method: 'POST', body: JSON.stringify(body) });
  if (!command.wait) {
    out.stdout(command.json ? JSON.stringify(created) : created.id);
    return 0;
  }
  if (!command.json) out.stdout(`replay ${created.id} of ${created.replayOf} from step ${created.fromStep}: ${created.status}`);
  // The stream ends after the replay's terminal event.
  for await (const _event of followEvents(new KeelClient(cfg), created.id)) {
    // Only its end matters here; `keel events <id>` shows them.
  }
  const comparison = await call<Comparison>(cfg, `/v1/tasks/${encodeURIComponent(created.id)}/compare`);
  out.stdout(command.json ? JSON.stringify(comparison) : formatComparison(comparison, out.style));
  return comparison.replay.status === 'succeeded' ? 0 : 1;
}

const COLUMN = 60;
const short = (id: string): string => id.slice(0, 8);

function callLine(c: StepView['calls'][number]): string {
  const outcome = c.ok === undefined ? '' : c.ok ? ' → ok' : ' → error';
  const how = c.replayedFrom ? ` (recorded ${short(c.replayedFrom)}…:${c.replayedFrom.split(':').slice(1).join(':')})` : c.replayed ? ' (ledger)' : '';
  return `${c.name}${outcome}${how} ${JSON.stringify(c.arguments)}`;
}

/** The lines of one run's step: model, each call with how it was served, the answer or error. */
export function stepLines(v: StepView | null): string[] {
  if (!v) return ['—'];
  const lines = [`model ${v.model ?? '(recorded)'}`, ...v.calls.map(callLine)];
  if (v.output) lines.push(`says ${JSON.stringify(v.output)}`);
  if (v.error) lines.push(`error ${JSON.stringify(v.error)}`);
  return lines;
}

/** Both runs side by side, step by step; shared steps (1..fromStep) are marked `=` and not repeated on the replay's side. */
export function formatComparison(c: Comparison, style: Style): string {
  const bold = (s: string) => (style.colour ? `\u001b[1m${s}\u001b[0m` : s);
  const cell = (s: string) => truncate(s, COLUMN).padEnd(COLUMN);
  const head = (label: string, r: RunSummary | null) => (r ? `${label} ${short(r.id)} ${r.status}, ${r.steps} steps, $${r.usage.costUsd.toFixed(6)}` : `${label} (deleted)`);
  const o = c.overrides;
  const changes = [o.model && `model ${o.model}`, o.systemPrompt && 'new system prompt', o.agent && `agent ${o.agent}`, o.liveTools && 'live tools'].filter(Boolean).join(', ');
  const lines = [
    bold(`replay ${c.replay.id} of ${c.original?.id ?? '(deleted task)'} from step ${c.fromStep}${changes ? ` · ${changes}` : ''}`),
    `steps 1..${c.fromStep} shared (the replay starts from the original's checkpoint); later steps new`,
    '',
    `${'step'.padEnd(8)}${cell(head('original', c.original))}  ${head('replay', c.replay)}`,
  ];
  for (const s of c.steps) {
    const left = stepLines(s.original);
    const right = s.shared ? ['= shared'] : stepLines(s.replay);
    const tag = `${s.step} ${s.shared ? '=' : 'new'}`;
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
      lines.push(`${(i === 0 ? tag : '').padEnd(8)}${cell(left[i] ?? '')}  ${truncate(right[i] ?? '', COLUMN)}`.trimEnd());
    }
  }
  lines.push('', `${'output'.padEnd(8)}${cell(JSON.stringify(c.original?.output ?? null))}  ${truncate(JSON.stringify(c.replay.output), COLUMN)}`);
  if (c.replay.error || c.original?.error) {
    lines.push(`${'error'.padEnd(8)}${cell(c.original?.error ? `${c.original.error.code}: ${c.original.error.message}` : '')}  ${c.replay.error ? truncate(`${c.replay.error.code}: ${c.replay.error.message}`, COLUMN) : ''}`.trimEnd());
  }
  return lines.join('\n');
}
