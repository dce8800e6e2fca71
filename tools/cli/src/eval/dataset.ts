import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { z } from 'zod';
import { ScriptSchema, TaskStatusSchema } from '@keel/contracts';
import { compileRegex, compileSchema } from './match';

/**
 * Evaluation datasets: JSONL (one case per line) or YAML (a list of cases, or
 * `{cases: [...]}`). Every case is validated before anything runs; a bad file
 * is reported with its path, the line of the case (or of the field, in YAML)
 * and the field, e.g.
 *   evals/suite/retries.jsonl:7: case "retry-429", field expected.status: Invalid option: …
 */
export const DEFAULT_CASE_TIMEOUT_MS = 30_000;

const ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
const CaseId = z.string().regex(ID, 'ids are 1-128 letters, digits, . _ : / or -, starting with a letter or digit');

const ToolCallExpectationSchema = z.object({
  name: z.string().min(1),
  /** Matched partially: every key given here must be in the actual arguments with an equal value (deeply). */
  arguments: z.record(z.string(), z.unknown()).optional(),
  /** Whether the call must have run successfully (default true); false: it must not have (refused, failed, not run). */
  ok: z.boolean().optional(),
}).strict();

const EventExpectationSchema = z.object({
  type: z.string().min(1),
  /** Matched partially, like tool arguments. */
  data: z.record(z.string(), z.unknown()).optional(),
}).strict();

export const ExpectedSchema = z.object({
  /** The output, compared trimmed. */
  output: z.string().optional(),
  /** A regular expression the output must match: `pattern` or `/pattern/flags`. */
  regex: z.string().optional().superRefine((r, ctx) => {
    if (r === undefined) return;
    try {
      compileRegex(r);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` });
    }
  }),
  /** JSON Schema (draft-07) the output, parsed as JSON, must satisfy. */
  jsonSchema: z.record(z.string(), z.unknown()).optional().superRefine((s, ctx) => {
    if (s === undefined) return;
    try {
      compileSchema(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not a valid JSON Schema: ${(err as Error).message}` });
    }
  }),
  /** The status the task must reach (default: failed when `error` is given, else succeeded). A non-terminal one (waiting_approval) is waited for. */
  status: TaskStatusSchema.optional(),
  /** The task's error: `code` exactly, `message` as a regular expression. */
  error: z.object({ code: z.string().min(1).optional(), message: z.string().optional() }).strict().optional(),
  /** The tool calls the model made, in order (tool-use accuracy). */
  toolCalls: z.array(ToolCallExpectationSchema).optional(),
  /** Events that must appear in the task's event log, in this order (others may come between). */
  events: z.array(EventExpectationSchema).optional(),
  /** Events that must not appear. */
  eventsAbsent: z.array(EventExpectationSchema).optional(),
  /** A rubric for the LLM judge (runs as a Keel task on the judge agent). */
  criteria: z.string().min(1).optional(),
}).strict();
export type Expected = z.output<typeof ExpectedSchema>;
export type ToolCallExpectation = z.output<typeof ToolCallExpectationSchema>;
export type EventExpectation = z.output<typeof EventExpectationSchema>;

const AgentName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'agent names are lowercase letters, digits, - and _');

export const EvalCaseSchema = z.object({
  id: CaseId,
  /** The task's input. `{{run}}` (also in userId and conversationId) becomes an id unique to this run of the dataset. */
  input: z.string().min(1, 'input must be a non-empty string'),
  agent: AgentName.optional(),
  conversationId: z.string().min(1).max(200).optional(),
  userId: z.string().min(1).max(200).optional(),
  /** Free JSON stored with the task; `metadata.script` holds the scripted model's turns. */
  metadata: z.record(z.string(), z.unknown()).optional().superRefine((m, ctx) => {
    if (m?.script === undefined) return;
    const parsed = ScriptSchema.safeParse(m.script);
    if (parsed.success) return;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: ['script', ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message: issue.message });
  }),
  expected: ExpectedSchema.optional(),
  tags: z.array(z.string().regex(/^[^\s,]+$/, 'tags have no spaces or commas')).optional(),
  /** How long to wait for the task to reach its expected (or a terminal) status. */
  timeoutMs: z.number().int().min(100).max(3_600_000).optional(),
  /** Cases that must have finished before this one starts (e.g. a cache hit, a conversation's next turn). */
  dependsOn: z.array(CaseId).optional(),
  /** Settings of this case's judge task: another agent, or metadata (a scripted judge's turns). */
  judge: z.object({ agent: AgentName.optional(), metadata: z.record(z.string(), z.unknown()).optional() }).strict().optional(),
}).strict();
export type EvalCaseInput = z.input<typeof EvalCaseSchema>;

export interface EvalCase extends z.output<typeof EvalCaseSchema> {
  /** Where the case was read from: `file:line`. */
  source: { file: string; line: number };
}

export interface DatasetIssue {
  file: string;
  line: number;
  caseId?: string;
  field?: string;
  message: string;
}

/** A dataset that cannot be run as it is: every problem found, each with file, line and field. */
export class DatasetError extends Error {
  constructor(readonly issues: DatasetIssue[]) {
    super(formatIssues(issues));
    this.name = new.target.name;
  }
}

const MAX_SHOWN = 20;

export function formatIssue(i: DatasetIssue): string {
  const where = [i.caseId !== undefined ? `case "${i.caseId}"` : undefined, i.field ? `field ${i.field}` : undefined].filter(Boolean).join(', ');
  return `${i.file}:${i.line}: ${where ? `${where}: ` : ''}${i.message}`;
}

function formatIssues(issues: DatasetIssue[]): string {
  const shown = issues.slice(0, MAX_SHOWN).map(formatIssue);
  if (issues.length > MAX_SHOWN) shown.push(`… and ${issues.length - MAX_SHOWN} more`);
  return `invalid dataset (${issues.length} problem${issues.length === 1 ? '' : 's'}); nothing was run:\n${shown.map((s) => `  ${s}`).join('\n')}`;
}

type PathKey = string | number;

const fieldOf = (path: readonly PathKey[]): string => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${p}`)).join('');

interface ZodIssueLike {
  path: readonly PropertyKey[];
  message: string;
  code?: string;
  keys?: readonly string[];
}

/** One dataset issue per zod issue; an unknown key is named as the field. */
function caseIssues(issues: readonly ZodIssueLike[], at: (path: PathKey[]) => number, file: string, caseId: string | undefined): DatasetIssue[] {
  return issues.flatMap((issue) => {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
      return issue.keys.map((k) => ({ file, line: at([...path, k]), caseId, field: fieldOf([...path, k]), message: `unknown field "${k}" (a typo?)` }));
    }
    return [{ file, line: at(path), caseId, field: path.length > 0 ? fieldOf(path) : undefined, message: issue.message }];
  });
}

const idOf = (raw: unknown): string | undefined => {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
};

/** Parses one dataset file's text. `file` is only used in messages and `source`. */
export function parseDataset(file: string, text: string): { cases: EvalCase[]; issues: DatasetIssue[] } {
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return parseJsonl(file, text);
  if (ext === '.yaml' || ext === '.yml') return parseYamlDataset(file, text);
  return { cases: [], issues: [{ file, line: 1, message: `unsupported dataset type "${ext || basename(file)}": use .jsonl, .yaml or .yml` }] };
}

function parseJsonl(file: string, text: string): { cases: EvalCase[]; issues: DatasetIssue[] } {
  const cases: EvalCase[] = [];
  const issues: DatasetIssue[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      issues.push({ file, line, message: `not valid JSON: ${(err as Error).message}` });
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      issues.push({ file, line, message: 'each line must be one JSON object (a case)' });
      continue;
    }
    const parsed = EvalCaseSchema.safeParse(value);
    if (!parsed.success) {
      issues.push(...caseIssues(parsed.error.issues, () => line, file, idOf(value)));
      continue;
    }
    cases.push({ ...parsed.data, source: { file, line } });
  }
  return { cases, issues };
}

function parseYamlDataset(file: string, text: string): { cases: EvalCase[]; issues: DatasetIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    return { cases: [], issues: doc.errors.map((e) => ({ file, line: e.linePos?.[0]?.line ?? 1, message: `not valid YAML: ${e.message.split('\n')[0]}` })) };
  }
  const lineAt = (offset: number | undefined): number => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  let prefix: PathKey[];
  if (isSeq(doc.contents)) prefix = [];
  else if (isMap(doc.contents) && isSeq(doc.get('cases', true))) prefix = ['cases'];
  else return { cases: [], issues: [{ file, line: 1, message: 'a YAML dataset is a list of cases, or a map with a `cases:` list' }] };
  const list = doc.getIn(prefix) as { items: unknown[] };
  const cases: EvalCase[] = [];
  const issues: DatasetIssue[] = [];
  const raw = doc.toJS() as unknown;
  const items = (prefix.length ? (raw as { cases: unknown[] }).cases : raw) as unknown[];
  for (let i = 0; i < list.items.length; i++) {
    const value = items[i];
    const at = (path: PathKey[]): number => lineAt(nodeOffset(doc, [...prefix, i, ...path]));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      issues.push({ file, line: at([]), message: 'each list item must be a case (a map with id and input)' });
      continue;
    }
    const parsed = EvalCaseSchema.safeParse(value);
    if (!parsed.success) {
      issues.push(...caseIssues(parsed.error.issues, at, file, idOf(value)));
      continue;
    }
    cases.push({ ...parsed.data, source: { file, line: at([]) } });
  }
  return { cases, issues };
}

/** The start offset of the deepest node on `path` that exists (a missing field points at its case). */
function nodeOffset(doc: Document, path: PathKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && Array.isArray(node.range)) return node.range[0];
  }
  return undefined;
}

/** Dataset files under a path: the file itself, or a directory's .jsonl/.yaml/.yml files in name order. */
export function datasetFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new DatasetError([{ file: path, line: 0, message: 'no such file or directory' }]);
  }
  if (!st.isDirectory()) return [path];
  const files = readdirSync(path).filter((f) => /\.(jsonl|ndjson|ya?ml)$/i.test(f)).sort().map((f) => join(path, f));
  if (files.length === 0) throw new DatasetError([{ file: path, line: 0, message: 'the directory holds no .jsonl, .yaml or .yml files' }]);
  return files;
}

/**
 * Loads and validates every case under `paths`; checks ids are unique and
 * `dependsOn` names existing cases without cycles. Throws DatasetError with
 * every problem; returns the cases in file order otherwise.
 */
export function loadDataset(paths: string[], cwd = process.cwd()): { files: string[]; cases: EvalCase[] } {
  const files = paths.flatMap((p) => datasetFiles(p));
  const cases: EvalCase[] = [];
  const issues: DatasetIssue[] = [];
  for (const path of files) {
    const shown = relative(cwd, path) || path;
    const r = parseDataset(shown.startsWith('..') ? path : shown, readFileSync(path, 'utf8'));
    cases.push(...r.cases);
    issues.push(...r.issues);
  }
  issues.push(...checkCases(cases));
  if (issues.length > 0) throw new DatasetError(issues);
  if (cases.length === 0) throw new DatasetError(files.map((file) => ({ file, line: 0, message: 'no cases' })));
  return { files, cases };
}

/** Cross-case checks: unique ids, known and acyclic dependsOn. */
export function checkCases(cases: readonly EvalCase[]): DatasetIssue[] {
  const issues: DatasetIssue[] = [];
  const byId = new Map<string, EvalCase>();
  for (const c of cases) {
    const first = byId.get(c.id);
    if (first) issues.push({ file: c.source.file, line: c.source.line, caseId: c.id, field: 'id', message: `duplicate id; first used at ${first.source.file}:${first.source.line}` });
    else byId.set(c.id, c);
  }
  for (const c of cases) {
    for (const dep of c.dependsOn ?? []) {
      if (!byId.has(dep)) issues.push({ file: c.source.file, line: c.source.line, caseId: c.id, field: 'dependsOn', message: `unknown case "${dep}"` });
      else if (dep === c.id) issues.push({ file: c.source.file, line: c.source.line, caseId: c.id, field: 'dependsOn', message: 'a case cannot depend on itself' });
    }
  }
  // Cycles (a → b → a) would never start.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (c: EvalCase, trail: string[]): void => {
    const s = state.get(c.id);
    if (s === 'done') return;
    if (s === 'visiting') {
      issues.push({ file: c.source.file, line: c.source.line, caseId: c.id, field: 'dependsOn', message: `dependency cycle: ${[...trail.slice(trail.indexOf(c.id)), c.id].join(' → ')}` });
      return;
    }
    state.set(c.id, 'visiting');
    for (const dep of c.dependsOn ?? []) {
      const d = byId.get(dep);
      if (d && d.id !== c.id) visit(d, [...trail, c.id]);
    }
    state.set(c.id, 'done');
  };
  for (const c of cases) visit(c, []);
  return issues;
}

/** Cases carrying at least one of `tags` (all of them when no tags are given). */
export function selectByTags(cases: readonly EvalCase[], tags: readonly string[] | undefined): EvalCase[] {
  if (!tags || tags.length === 0) return [...cases];
  return cases.filter((c) => c.tags?.some((t) => tags.includes(t)));
}
