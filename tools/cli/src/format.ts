import type { DeadLetter, TaskEvent, TaskView } from '@keel/contracts';
import type { SseMessage } from './sse';

/**
 * How the CLI shows tasks, events and dead letters to a person. Pure
 * functions of their input (and of the local time zone for clock times).
 */
export interface Style {
  colour: boolean;
}

const ESC = '\u001b[';
const code = { reset: `${ESC}0m`, bold: `${ESC}1m`, dim: `${ESC}2m`, red: `${ESC}31m`, green: `${ESC}32m`, yellow: `${ESC}33m`, cyan: `${ESC}36m` };
const paint = (s: Style, c: string, text: string): string => (s.colour ? `${c}${text}${code.reset}` : text);

export const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export const isTerminalStatus = (s: unknown): boolean => typeof s === 'string' && (TERMINAL as readonly string[]).includes(s);

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

export function clock(at: string | number): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function dateTime(at: string | number): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s*\n\s*/g, ' ⏎ ');
  return oneLine.length > max ? `${oneLine.slice(0, Math.max(0, max - 1))}…` : oneLine;
}

export function value(v: unknown, max = 120): string {
  let s: string;
  if (typeof v === 'string') s = v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  else if (v === null || typeof v === 'number' || typeof v === 'boolean') s = String(v);
  else s = JSON.stringify(v) ?? typeof v;
  return truncate(s, max);
}

export function statusColour(status: string): string {
  if (status === 'succeeded') return code.green;
  if (status === 'failed' || status === 'timed_out') return code.red;
  if (status === 'cancelled' || status === 'waiting_approval' || status === 'waiting_model') return code.yellow;
  return code.cyan;
}

/** The TaskEvent inside one SSE message; undefined when the data is not one. */
export function toTaskEvent(msg: SseMessage): TaskEvent | undefined {
  try {
    const v = JSON.parse(msg.data) as Partial<TaskEvent> | null;
    if (!v || typeof v !== 'object') return undefined;
    const seq = typeof v.seq === 'number' ? v.seq : Number(msg.id);
    return {
      taskId: typeof v.taskId === 'string' ? v.taskId : '',
      seq: Number.isFinite(seq) ? seq : 0,
      type: typeof v.type === 'string' ? v.type : msg.event,
      at: typeof v.at === 'string' ? v.at : new Date().toISOString(),
      data: v.data && typeof v.data === 'object' ? v.data : {},
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether an event ends the task: `task.succeeded`, `succeeded`, `task_failed`…
 * (not `step.failed`: a failed step does not end a task), or a task event whose
 * data carries a terminal status.
 */
export function isTerminalEvent(e: TaskEvent): boolean {
  const m = /^(?:task[._-])?([a-z_]+)$/.exec(e.type);
  if (m && isTerminalStatus(m[1])) return true;
  return e.type.startsWith('task') && isTerminalStatus(e.data.status);
}

/** `12:00:01.234  #3  model.completed  step=1 model=scripted/default` */
export function formatEvent(e: TaskEvent, s: Style): string {
  const fields = Object.entries(e.data).filter(([, v]) => v !== undefined).map(([k, v]) => `${paint(s, code.dim, `${k}=`)}${value(v)}`);
  const typeColour = isTerminalEvent(e) ? statusColour(/(succeeded|failed|cancelled|timed_out)/.exec(e.type)?.[1] ?? String(e.data.status)) : code.bold;
  const head = `${paint(s, code.dim, clock(e.at))}  ${paint(s, code.dim, `#${e.seq}`.padStart(4))}  ${paint(s, typeColour, e.type.padEnd(20))}`;
  return fields.length > 0 ? `${head} ${fields.join(' ')}` : head.trimEnd();
}

export function formatUsage(u: TaskView['usage'] | undefined): string {
  if (!u) return '-';
  return `${u.inputTokens} input + ${u.outputTokens} output tokens, $${u.costUsd.toFixed(6)}`;
}

function duration(from: string, to: string | null): string | undefined {
  if (!to) return undefined;
  const ms = new Date(to).getTime() - new Date(from).getTime();
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A readable summary of `GET /v1/tasks/{id}`. */
export function formatTask(t: TaskView, s: Style): string {
  const rows: [string, string][] = [
    ['task', t.id],
    ['status', paint(s, statusColour(t.status), t.status)],
    ['agent', t.agent ?? '-'],
    ['input', truncate(t.input ?? '', 400)],
  ];
  if (t.output !== null && t.output !== undefined) rows.push(['output', t.output]);
  if (t.error) rows.push(['error', paint(s, code.red, `${t.error.code}: ${t.error.message}`)]);
  rows.push(['steps', String(t.steps ?? 0)], ['usage', formatUsage(t.usage)], ['traceId', t.traceId ?? '-']);
  if (t.createdAt) rows.push(['created', dateTime(t.createdAt)]);
  if (t.finishedAt) {
    const took = t.createdAt ? duration(t.createdAt, t.finishedAt) : undefined;
    rows.push(['finished', `${dateTime(t.finishedAt)}${took ? ` (${took})` : ''}`]);
  }
  // Multi-line outputs stay readable: continuation lines are indented under the value.
  return rows.map(([k, v]) => `${paint(s, code.dim, k.padEnd(9))} ${v.split('\n').join(`\n${' '.repeat(10)}`)}`).join('\n');
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A plain text table: columns as wide as their widest cell, the last one unpadded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], s: Style): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [paint(s, code.bold, line(headers)), ...rows.map(line)].join('\n');
}

/** A dead letter as the CLI lists it; `raw` when the stored message did not match DeadLetterSchema. */
export interface DeadLetterRow {
  seq: number;
  letter?: DeadLetter;
  raw?: string;
  subject: string;
  time?: string;
}

export const DEAD_LETTER_HEADERS = ['SEQ', 'TIME', 'SERVICE', 'SUBJECT', 'REASON', 'ERROR', 'SIZE'] as const;

export function deadLetterCells(r: DeadLetterRow): string[] {
  const l = r.letter;
  const service = r.subject.startsWith('keel.v1.dlq.') ? r.subject.slice('keel.v1.dlq.'.length) : '?';
  if (!l) return [String(r.seq), r.time ? dateTime(r.time) : '-', service, truncate(r.subject, 40), 'unreadable', truncate(r.raw ?? '', 60), '-'];
  return [
    String(r.seq),
    dateTime(l.at),
    l.service,
    truncate(l.subject, 40),
    l.reason,
    truncate(`${l.error.code}: ${l.error.message}`, 80),
    `${humanBytes(l.size)}${l.truncated ? ' (truncated)' : ''}`,
  ];
}

export function formatDeadLetters(rows: readonly DeadLetterRow[], s: Style): string {
  return table(DEAD_LETTER_HEADERS, rows.map(deadLetterCells), s);
}
