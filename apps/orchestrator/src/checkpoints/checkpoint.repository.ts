import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, preparedQuery } from '@keel/persistence';
import type { ChatMessage, CompleteResponse, ErrorBody, TaskEvent, TaskMode, TaskStatus, ToolCall } from '@keel/contracts';

/** What a step needs to continue a task: the task row plus its transcript. */
export interface TaskState {
  id: string;
  tenant: string;
  userId: string | null;
  agent: string;
  status: TaskStatus;
  mode: TaskMode;
  input: string;
  metadata: Record<string, unknown>;
  /** Set when the task continues a conversation (memory). */
  conversationId: string | null;
  step: number;
  modelCalls: number;
  transcript: ChatMessage[];
  pending: PendingTurn | null;
  traceparent: string | null;
  deadlineAt: Date;
  createdAt: Date;
  /** A/B experiment and variant assigned at submit (experiments/variants.ts); null outside one. */
  experiment?: string | null;
  variant?: string | null;
}

/** A model turn whose tool calls wait for a human decision; kept so the model is not called again on resume. */
/** What a parked or write-ahead step waits with: the model's turn, or (step 1) a user input held for review. */
export type PendingTurn = PendingModelTurn | PendingInputReview;

export interface PendingModelTurn {
  step: number;
  turn: CompleteResponse;
}

/** Step 1 parked on an approval gate because the guardrail escalated the input (agent `guardrail.onEscalate: review`). */
export interface PendingInputReview {
  step: number;
  /** The `INPUT_REVIEW_TOOL` call the gate holds; on resume it is asked about again as stored, never re-screened. */
  inputReview: Required<ToolCall>;
}

/** The tool call at `index` of what the step waits on (the model turn's calls, or the input review). */
export function pendingCall(pending: PendingTurn | null | undefined, index: number): ToolCall | undefined {
  if (!pending) return undefined;
  return 'inputReview' in pending ? (index === 0 ? pending.inputReview : undefined) : pending.turn.toolCalls?.[index];
}

export interface NewEvent {
  type: string;
  data: Record<string, unknown>;
}

export interface StepCommit {
  taskId: string;
  /** The step count after this commit (= the step run, or unchanged when a step only paused). */
  step: number;
  /** The task must still be at this step and in one of these statuses: the fence against a duplicate runner. */
  expectStep: number;
  expectStatus: TaskStatus[];
  status: TaskStatus;
  messages: ChatMessage[];
  events: NewEvent[];
  usage?: { inputTokens: number; outputTokens: number; costUsd: number };
  modelCalls?: number;
  output?: string | null;
  error?: ErrorBody | null;
  pending?: PendingTurn | null;
  finished?: boolean;
  /** Write-ahead of a model turn: only if no runner recorded a turn for this step already. */
  expectNoPending?: boolean;
  /** A conversation task's answer: its turns and the facts they state join memory in the same statement. */
  remember?: MemoryWrite;
}

/** What a finished conversation task adds to memory (memory/memory.service.ts builds it). */
export interface MemoryWrite {
  userKey: string;
  conversationId: string;
  /** User turn, then assistant turn; content stored by hash in `messages`. */
  turns: { message: ChatMessage & { role: 'user' | 'assistant' }; embedding: ArrayLike<number> }[];
  facts: { key: string; content: string; embedding: ArrayLike<number> }[];
}

/** A vector as a Postgres array literal (unnest of a 2-D array would flatten it). */
const vectorLiteral = (v: ArrayLike<number>): string => `{${Array.from(v, (x) => Number(x.toFixed(6))).join(',')}}`;

function memoryParams(m: MemoryWrite | undefined): unknown[] {
  const turns = m?.turns ?? [];
  const facts = m?.facts ?? [];
  return [
    turns.map((t) => messageHash(t.message)), turns.map((t) => JSON.stringify(t.message)), m?.userKey ?? null, m?.conversationId ?? null,
    turns.map((t) => t.message.role), turns.map((t) => vectorLiteral(t.embedding)),
    facts.map((f) => f.key), facts.map((f) => f.content), facts.map((f) => vectorLiteral(f.embedding)),
  ];
}

export const messageHash = (m: ChatMessage): string => createHash('sha256').update(JSON.stringify(m)).digest('hex');

type StateRow = {
  id: string; tenant: string; user_id: string | null; agent: string; status: TaskStatus; mode: TaskMode; input: string;
  metadata: Record<string, unknown>; conversation_id: string | null; step: number; model_calls: number; pending: PendingTurn | null;
  traceparent: string | null; deadline_at: Date; created_at: Date; transcript: ChatMessage[]; experiment: string | null; variant: string | null;
};

@Injectable()
export class CheckpointRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** One round trip: the task row and its transcript in order. */
  async load(taskId: string): Promise<TaskState | null> {
    const rows = await preparedQuery<StateRow>(this.db, 'keel_load_task',
      `SELECT t.id, t.tenant, t.user_id, t.agent, t.status, t.mode, t.input, t.metadata, t.conversation_id, t.step, t.model_calls, t.pending,
              t.traceparent, t.deadline_at, t.created_at, t.experiment, t.variant,
              COALESCE((SELECT json_agg(m.content ORDER BY tm.idx)
                          FROM orchestrator.task_messages tm
                          JOIN orchestrator.messages m ON m.tenant = t.tenant AND m.hash = tm.hash
                         WHERE tm.task_id = t.id), '[]'::json) AS transcript
         FROM orchestrator.tasks t WHERE t.id = $1`,
      [taskId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      id: r.id, tenant: r.tenant, userId: r.user_id, agent: r.agent, status: r.status, mode: r.mode, input: r.input,
      metadata: r.metadata, conversationId: r.conversation_id, step: r.step, modelCalls: r.model_calls, transcript: r.transcript, pending: r.pending,
      traceparent: r.traceparent, deadlineAt: new Date(r.deadline_at), createdAt: new Date(r.created_at),
      experiment: r.experiment, variant: r.variant,
    };
  }

  /** The task row without its transcript: enough to decide whether a message still concerns the task. */
  async head(taskId: string): Promise<Pick<TaskState, 'id' | 'tenant' | 'status' | 'step' | 'pending' | 'traceparent'> | null> {
    const rows = await preparedQuery<{ id: string; tenant: string; status: TaskStatus; step: number; pending: PendingTurn | null; traceparent: string | null }>(this.db, 'keel_task_head',
      'SELECT id, tenant, status, step, pending, traceparent FROM orchestrator.tasks WHERE id = $1', [taskId]);
    return rows[0] ?? null;
  }

  /**
   * A step's checkpoint in ONE statement (so one transaction, one round trip):
   * advance the task row, store new messages by hash, append their references
   * and the step's events. Everything hangs off the fenced UPDATE, so when a
   * duplicate runner already committed this step nothing at all is written and
   * `committed` is false.
   */
  async commit(c: StepCommit): Promise<{ committed: boolean; events: TaskEvent[] }> {
    const hashes = c.messages.map(messageHash);
    const contents = c.messages.map((m) => JSON.stringify(m));
    const types = c.events.map((e) => e.type);
    const datas = c.events.map((e) => JSON.stringify(e.data));
    const rows = await preparedQuery<{ committed: number; events: TaskEvent[] | null }>(this.db, 'keel_commit_step',
      `WITH t AS (
         UPDATE orchestrator.tasks SET
           step = $2, status = $3,
           output = CASE WHEN $4::boolean THEN $5 ELSE output END,
           error = $6::jsonb, pending = $7::jsonb,
           model_calls = model_calls + $8, input_tokens = input_tokens + $9, output_tokens = output_tokens + $10,
           cost_usd = cost_usd + $11,
           message_count = message_count + cardinality($12::text[]),
           event_seq = event_seq + cardinality($14::text[]),
           updated_at = now(),
           finished_at = CASE WHEN $16::boolean THEN now() ELSE finished_at END
         WHERE id = $1 AND step = $17 AND status = ANY($18::text[]) AND (NOT $19::boolean OR pending IS NULL)
         RETURNING id, tenant, message_count - cardinality($12::text[]) AS msg_base, event_seq - cardinality($14::text[]) AS ev_base
       ), m AS (
         INSERT INTO orchestrator.messages (tenant, hash, content)
         SELECT t.tenant, x.hash, x.content FROM t, unnest($12::text[], $13::jsonb[]) AS x(hash, content)
         ON CONFLICT DO NOTHING
       ), tm AS (
         INSERT INTO orchestrator.task_messages (task_id, idx, hash)
         SELECT t.id, t.msg_base + x.ord - 1, x.hash FROM t, unnest($12::text[]) WITH ORDINALITY AS x(hash, ord)
       ), e AS (
         INSERT INTO orchestrator.task_events (task_id, seq, type, data)
         SELECT t.id, t.ev_base + x.ord, x.type, x.data FROM t, unnest($14::text[], $15::jsonb[]) WITH ORDINALITY AS x(type, data, ord)
         RETURNING task_id, seq, type, data, at
       ), mm AS (
         INSERT INTO orchestrator.messages (tenant, hash, content)
         SELECT t.tenant, x.hash, x.content FROM t, unnest($20::text[], $21::jsonb[]) AS x(hash, content)
          WHERE NOT x.hash = ANY($12::text[])
         ON CONFLICT DO NOTHING
       ), mt AS (
         INSERT INTO orchestrator.memory_items (tenant, user_key, kind, conversation_id, role, hash, embedding, task_id)
         SELECT t.tenant, $22, 'turn', $23, x.role, x.hash, x.embedding::real[], t.id
           FROM t, unnest($24::text[], $20::text[], $25::text[]) WITH ORDINALITY AS x(role, hash, embedding, ord)
          ORDER BY x.ord
         ON CONFLICT DO NOTHING
       ), mf AS (
         INSERT INTO orchestrator.memory_items (tenant, user_key, kind, hash, content, embedding, task_id)
         SELECT t.tenant, $22, 'fact', x.hash, x.content, x.embedding::real[], t.id
           FROM t, unnest($26::text[], $27::text[], $28::text[]) AS x(hash, content, embedding)
         ON CONFLICT DO NOTHING
       )
       SELECT (SELECT count(*)::int FROM t) AS committed,
              (SELECT json_agg(json_build_object('taskId', task_id, 'seq', seq, 'type', type, 'data', data, 'at', at) ORDER BY seq) FROM e) AS events`,
      [
        c.taskId, c.step, c.status, c.output !== undefined, c.output ?? null,
        c.error ? JSON.stringify(c.error) : null, c.pending ? JSON.stringify(c.pending) : null,
        c.modelCalls ?? 0, c.usage?.inputTokens ?? 0, c.usage?.outputTokens ?? 0, c.usage?.costUsd ?? 0,
        hashes, contents, types, datas, c.finished ?? false, c.expectStep, c.expectStatus, c.expectNoPending ?? false,
        ...memoryParams(c.remember),
      ],
    );
    return { committed: rows[0].committed === 1, events: rows[0].events ?? [] };
  }

  /**
   * Appends events without touching the task's step: for what happened in a
   * step that could not be checkpointed (cancelled mid-way: the tool calls that
   * did run are still recorded).
   */
  async appendEvents(taskId: string, events: NewEvent[]): Promise<TaskEvent[]> {
    if (!events.length) return [];
    const rows: { events: TaskEvent[] | null }[] = await this.db.query(
      `WITH t AS (
         UPDATE orchestrator.tasks SET event_seq = event_seq + cardinality($2::text[]), updated_at = now()
          WHERE id = $1 RETURNING id, event_seq - cardinality($2::text[]) AS ev_base
       ), e AS (
         INSERT INTO orchestrator.task_events (task_id, seq, type, data)
         SELECT t.id, t.ev_base + x.ord, x.type, x.data FROM t, unnest($2::text[], $3::jsonb[]) WITH ORDINALITY AS x(type, data, ord)
         RETURNING task_id, seq, type, data, at
       )
       SELECT json_agg(json_build_object('taskId', task_id, 'seq', seq, 'type', type, 'data', data, 'at', at) ORDER BY seq) AS events FROM e`,
      [taskId, events.map((e) => e.type), events.map((e) => JSON.stringify(e.data))],
    );
    return rows[0]?.events ?? [];
  }

  /** A long step's heartbeat: the watchdog reads `updated_at` of running tasks. */
  async beat(taskId: string): Promise<void> {
    await this.db.query(`UPDATE orchestrator.tasks SET updated_at = now() WHERE id = $1 AND status = 'running'`, [taskId]);
  }
}
