import { Client } from 'pg';
import { TERMINAL_STATUSES } from '@keel/contracts';
import type { TaskStatus, TaskView } from '@keel/contracts';
import type { KeelStack, ServiceName } from './keel-stack';
import { waitFor } from './net';

export interface KeelClientOptions {
  /** Sent as `Authorization: Bearer …`; default the stack's bootstrap admin key. */
  apiKey?: string;
  /** The default timeout of `waitStatus`; default 30 s. */
  waitMs?: number;
}

/** A row of `orchestrator.task_events`. */
export interface TaskEventRow {
  type: string;
  data: Record<string, unknown>;
}

export interface KeelClient {
  /** The raw answer of one service, with the key and `Content-Type: application/json` (`init.headers` win). */
  request(service: ServiceName, path: string, init?: RequestInit): Promise<Response>;
  /** The orchestrator's status and JSON body (null for 204). */
  call<T = Record<string, unknown>>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
  /** The orchestrator's JSON body, whatever the status. */
  api<T = Record<string, unknown>>(path: string, init?: RequestInit): Promise<T>;
  /** POSTs `/v1/tasks` and returns the id; anything but 202 throws. */
  submit(body: Record<string, unknown>): Promise<string>;
  /** `GET /v1/tasks/{id}`; anything but 200 throws. */
  task(id: string): Promise<TaskView>;
  /** Polls the task until its status is one of `statuses` and returns it. */
  waitStatus(id: string, statuses: readonly TaskStatus[], timeoutMs?: number, everyMs?: number): Promise<TaskView>;
  /** The task's events from Postgres, in order. */
  events(id: string): Promise<TaskEventRow[]>;
}

/**
 * REST and event-log helpers against a running stack, for e2e specs. Pass
 * `() => keel` where the stack is started later (in `beforeAll`).
 */
export function keelClient(stack: KeelStack | (() => KeelStack), opts: KeelClientOptions = {}): KeelClient {
  const keel = typeof stack === 'function' ? stack : () => stack;
  const waitMs = opts.waitMs ?? 30_000;

  const request = (service: ServiceName, path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers({ Authorization: `Bearer ${opts.apiKey ?? keel().apiKey}`, 'Content-Type': 'application/json' });
    new Headers(init.headers).forEach((value, name) => headers.set(name, value));
    return fetch(`${keel().url(service)}${path}`, { ...init, headers });
  };

  const call = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await request('orchestrator', path, init);
    if (res.status === 204) return { status: res.status, body: null as T };
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) as T };
    } catch {
      throw new Error(`${init.method ?? 'GET'} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
  };

  const task = async (id: string): Promise<TaskView> => {
    const { status, body } = await call<TaskView>(`/v1/tasks/${id}`);
    if (status !== 200) throw new Error(`GET /v1/tasks/${id} answered ${status}: ${JSON.stringify(body)}`);
    return body;
  };

  return {
    request,
    call,
    api: async <T>(path: string, init?: RequestInit) => (await call<T>(path, init)).body,
    submit: async (body) => {
      const res = await call<{ id: string }>('/v1/tasks', { method: 'POST', body: JSON.stringify(body) });
      if (res.status !== 202) throw new Error(`POST /v1/tasks answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.id;
    },
    task,
    waitStatus: (id, statuses, timeoutMs = waitMs, everyMs = 50) => waitFor(`task ${id} in ${statuses.join('/')}`, async () => {
      const t = await task(id);
      if (statuses.includes(t.status)) return t;
      // waitFor keeps polling after a throw: this only makes a timeout say how the task ended.
      if (TERMINAL_STATUSES.includes(t.status)) throw new Error(`task ${id} ended ${t.status}: ${JSON.stringify(t.error)}`);
      return undefined;
    }, timeoutMs, everyMs),
    events: async (id) => {
      const c = new Client({ connectionString: keel().db.url });
      await c.connect();
      try {
        return (await c.query<TaskEventRow>('SELECT type, data FROM orchestrator.task_events WHERE task_id = $1 ORDER BY seq', [id])).rows;
      } finally {
        await c.end();
      }
    },
  };
}
