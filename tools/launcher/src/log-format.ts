/**
 * Renders one line of a child's output for the combined console: a padded,
 * coloured `[orchestrator.0]` prefix, then pino JSON as
 * `HH:MM:SS.mmm INFO  message  key=value …`. Lines that are not pino JSON pass
 * through untouched, so stack traces and library chatter are never lost.
 */

const ESC = '\u001b[';
export const ansi = {
  reset: `${ESC}0m`,
  bold: `${ESC}1m`,
  dim: `${ESC}2m`,
  red: `${ESC}31m`,
  green: `${ESC}32m`,
  yellow: `${ESC}33m`,
  blue: `${ESC}34m`,
  magenta: `${ESC}35m`,
  cyan: `${ESC}36m`,
} as const;

/** One colour per service (by its index in SERVICES). */
export const SERVICE_COLOURS = [ansi.cyan, ansi.magenta, ansi.blue, ansi.green, ansi.yellow] as const;

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOUR: Record<string, string> = {
  TRACE: ansi.dim, DEBUG: ansi.dim, INFO: ansi.green, WARN: ansi.yellow, ERROR: ansi.red, FATAL: ansi.red,
};

/** Fields shown elsewhere on the line (or noise for a local console). */
const HIDDEN = new Set(['level', 'level_name', 'time', 'msg', 'message', 'service', 'pid', 'hostname', 'v', 'instance']);
/** Ids worth seeing but not in full: 8 characters are enough to grep and to tell apart. */
const SHORT_IDS = new Set(['trace_id', 'traceId', 'span_id', 'spanId', 'task_id', 'taskId', 'trace_flags']);
const MAX_VALUE = 300;

export interface StyleOptions {
  colour: boolean;
}

function paint(on: boolean, code: string, text: string): string {
  return on ? `${code}${text}${ansi.reset}` : text;
}

export function levelName(level: unknown): string {
  if (typeof level === 'number') return LEVELS[level] ?? `L${level}`;
  if (typeof level === 'string') return level.toUpperCase();
  return 'INFO';
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Local wall-clock time, the way a developer reads a console. */
export function clock(time: unknown): string {
  const d = typeof time === 'number' ? new Date(time) : typeof time === 'string' ? new Date(time) : new Date();
  if (Number.isNaN(d.getTime())) return '--:--:--.---';
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function renderValue(key: string, value: unknown): string {
  let s: string;
  if (typeof value === 'string') {
    s = SHORT_IDS.has(key) && value.length > 8 ? value.slice(0, 8) : value;
    if (s === '' || /[\s"=]/.test(s)) s = JSON.stringify(s);
  } else if (value === null || typeof value === 'number' || typeof value === 'boolean') {
    s = String(value);
  } else {
    // JSON.stringify gives undefined for functions and symbols, which JSON logs never hold.
    s = JSON.stringify(value) ?? typeof value;
  }
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
}

interface ErrLike {
  type?: unknown;
  message?: unknown;
  stack?: unknown;
}

/** Parses a pino line; undefined when the line is not a pino JSON object. */
export function parsePino(line: string): Record<string, unknown> | undefined {
  const t = line.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const o = v as Record<string, unknown>;
    return 'level' in o && ('msg' in o || 'time' in o) ? o : undefined;
  } catch {
    return undefined;
  }
}

/** `HH:MM:SS.mmm INFO  message  key=value …`, plus the stack of an error on later lines. */
export function renderPino(o: Record<string, unknown>, style: StyleOptions): string {
  const level = levelName(o.level);
  const msg = typeof o.msg === 'string' ? o.msg : typeof o.message === 'string' ? o.message : '';
  const parts: string[] = [];
  let stack: string | undefined;
  for (const [key, value] of Object.entries(o)) {
    if (HIDDEN.has(key) || value === undefined) continue;
    if ((key === 'err' || key === 'error') && value !== null && typeof value === 'object') {
      const e = value as ErrLike;
      const text = [e.type, e.message].filter((x) => typeof x === 'string').join(': ');
      parts.push(`${key}=${renderValue(key, text || value)}`);
      if (typeof e.stack === 'string') stack = e.stack;
      continue;
    }
    parts.push(`${paint(style.colour, ansi.dim, `${key}=`)}${renderValue(key, value)}`);
  }
  const head = `${paint(style.colour, ansi.dim, clock(o.time))} ${paint(style.colour, LEVEL_COLOUR[level] ?? '', level.padEnd(5))} ${msg}`;
  let out = parts.length > 0 ? `${head}  ${parts.join(' ')}` : head;
  if (stack !== undefined) {
    // The first stack line repeats the message; the frames are what help.
    const frames = stack.split('\n').slice(1).map((l) => `    ${l.trim()}`);
    if (frames.length > 0) out += `\n${frames.join('\n')}`;
  }
  return out;
}

/** `[orchestrator.0]` padded to the widest label, in the service's colour. */
export function prefix(label: string, width: number, colour: string | undefined, style: StyleOptions): string {
  const text = `[${label}]`.padEnd(width + 2);
  return colour !== undefined ? paint(style.colour, colour, text) : text;
}

export interface LineOptions extends StyleOptions {
  raw: boolean;
}

/** The full console line(s) for one line of child output. */
export function formatLine(pre: string, line: string, opts: LineOptions): string {
  const o = opts.raw ? undefined : parsePino(line);
  const body = o ? renderPino(o, opts) : line;
  // Continuation lines (stack frames) keep the prefix so `grep orchestrator.1` still finds them.
  return body.split('\n').map((l) => `${pre} ${l}`).join('\n');
}
