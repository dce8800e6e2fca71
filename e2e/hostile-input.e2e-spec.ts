import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { z } from 'zod';
import {
  ApprovalDecidedSchema, BatchItemSettledSchema, DEAD_LETTER_REASONS, DeadLetterSchema, StepWorkSchema, Streams, SubmitTaskSchema, Subjects, taskIdFor,
} from '@keel/contracts';
import type { DeadLetter } from '@keel/contracts';
import { fetchRouteInventory, insertApiKey, readAllDeadLetters, routeKey, startKeel, waitFor } from '@keel/testing';
import type { ApiRoute, KeelStack } from '@keel/testing';

/**
 * Issue 11: property-based fuzzing (fast-check) of every REST endpoint (from
 * the services' `/openapi.json`) and every inbound NATS subject with
 * malformed, oversized and hostile input. Nothing may answer 5xx, hang or
 * crash a process; a task submission is never lost or duplicated; every bad
 * JetStream message is dead-lettered with its reason (found again in
 * `KEEL_DLQ` by a marker header); every bad request gets an error reply.
 *
 * Reproduce a failure with the seed it prints: KEEL_FUZZ_SEED=<seed>.
 */
const SEED = Number(process.env.KEEL_FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.KEEL_FUZZ_RUNS ?? 50);
const TENANT = 'fuzz';
const MARK_HEADER = 'Keel-Fuzz-Id';

// ---------------------------------------------------------------- hostile values

const HOSTILE_STRINGS = [
  '', ' ', '../../../../etc/passwd', '..%2F..%2Fetc%2Fpasswd', '%00', '\u0000', 'a\u0000b', '%ff%fe', '%', '%zz',
  "' OR '1'='1' --", '"; DROP TABLE orchestrator.tasks; --', '1); SELECT pg_sleep(30); --', '$1', '\\', '\\u0000',
  '<script>alert(1)</script>', '<img src=x onerror=alert(document.cookie)>', '{{7*7}}', '${7*7}', '#{7*7}', '<%= 7*7 %>',
  '{{constructor.constructor("return process")()}}', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString',
  'NaN', 'Infinity', '-Infinity', '-0', '1e309', '0x7fffffff', '9007199254740993', 'null', 'undefined', 'true', '[]', '{}',
  '\uD800', 'a\uDC00b', '\uDBFF\uDBFF', '\uFFFE', '\u202Eevil', '\u200B', 'ǅǈ', '🧨'.repeat(50), 'Ω'.repeat(3000), 'A'.repeat(70_000),
  'keel.v1.>', '*', '>', 'a\r\nInjected: header', '\n\n', ' \t ',
];
const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }).map((s) => s.repeat(2000)) },
);
const hostileNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 1.5, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, -1e308, Number.MIN_VALUE, 1e-320),
  fc.double(),
  fc.integer(),
);
/** Any JSON value, including the keys that pollute prototypes. */
const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString, hostileNumber, fc.boolean(), fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'input', 'agent', 'id', 'tenant', 'score', 'text'), fc.string({ maxLength: 6 })), tie('value'), { maxKeys: 4 }),
  ),
})).value;
const deepNesting = fc.tuple(fc.integer({ min: 1_000, max: 150_000 }), fc.constantFrom('[', '{"a":')).map(([n, open]) =>
  open === '[' ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);

/** A body the way a hostile client sends it: raw bytes, so invalid UTF-8 and broken JSON get through. */
type RawBody = { kind: string; bytes: Buffer; [fc.toStringMethod]?: () => string };
/** fast-check prints a counterexample with this: the kind, the size and the first bytes, not a megabyte of them. */
const raw = (kind: string, bytes: Buffer): RawBody => ({
  kind, bytes,
  [fc.toStringMethod]: () => `${kind} (${bytes.length} bytes): ${JSON.stringify(bytes.subarray(0, 300).toString('latin1'))}${bytes.length > 300 ? '…' : ''}`,
});
const asJson = (kind: string) => (v: unknown): RawBody => raw(kind, Buffer.from(JSON.stringify(v) ?? 'null'));
/** `template`: a valid body of the route; fields are swapped for hostile values, and hostile keys added. */
const nearValid = (template: Record<string, unknown>) => fc.tuple(
  // Each field is swapped for a hostile value one time in four, so some bodies stay valid and reach the handlers.
  fc.array(fc.nat(3).map((n) => n === 0), { minLength: Object.keys(template).length, maxLength: Object.keys(template).length }),
  fc.array(hostileJson, { minLength: Object.keys(template).length, maxLength: Object.keys(template).length }),
  fc.option(fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'extra', 'toString'), hostileJson, { maxKeys: 2 }), { nil: undefined }),
).map(([swap, values, extra]) => {
  const out: Record<string, unknown> = {};
  Object.keys(template).forEach((k, i) => { out[k] = swap[i] ? values[i] : template[k]; });
  // JSON.parse keeps "__proto__" as an own key: write it into the text the same way.
  const text = JSON.stringify(out);
  const extraText = extra ? Object.entries(extra).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',') : '';
  return raw('near-valid', Buffer.from(extraText ? `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}${extraText}}` : text));
});
const hostileBody = (template?: Record<string, unknown>): fc.Arbitrary<RawBody | undefined> => fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: hostileJson.map(asJson('wrong-shape')) },
  { weight: template ? 6 : 0, arbitrary: template ? nearValid(template) : fc.constant(undefined) },
  { weight: 1, arbitrary: deepNesting.map((s) => raw('deep-nesting', Buffer.from(s))) },
  { weight: 1, arbitrary: fc.constantFrom(1_048_577, 1_200_000).map((n) => raw('over-1MB', Buffer.from(JSON.stringify({ input: 'x'.repeat(n), text: 'y', channel: 'user' })))) },
  { weight: 1, arbitrary: fc.constantFrom(...[Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from('{"input":"\xc3\x28"}', 'latin1'), Buffer.from('{"input":"\xed\xa0\x80x"}', 'latin1'), Buffer.from('{"input": "a"', 'utf8'), Buffer.from('{"input":"a"}\u0000'), Buffer.from('\ufeff{"input":"a"}')].map((b) => raw('bad-bytes', b))) },
  { weight: 1, arbitrary: fc.constantFrom('{"__proto__":{"polluted":true},"input":"p"}', '{"constructor":{"prototype":{"polluted":true}},"input":"p"}', '{"input":"a","input":"b"}', 'NaN', '-Infinity', '1e999', '"just a string"', 'null', '[]', '').map((s) => raw('json-edge', Buffer.from(s))) },
);
const CONTENT_TYPES = [undefined, 'application/json', 'application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json; charset=nope', 'application/merge-patch+json', 'application/xml', '*/*', 'application/json;;;'];
/** Header values fetch can send (a ByteString without CR, LF or NUL). */
const headerValue = hostileString.map((s) => s.replace(/[^\x20-\x7e\x80-\xff]/g, '').slice(0, 8000));
const pathParam = fc.oneof(
  { weight: 3, arbitrary: hostileString.map((s) => ({ raw: false, value: s.slice(0, 5000) })) },
  { weight: 2, arbitrary: fc.constantFrom('../', '..', '.', '..%2F..%2F', '%2e%2e%2f', '%00', 'a%00b', '%', '%zz', '%ff', '%c0%ae', 'x/../../healthz', 'a'.repeat(8000), '00000000-0000-0000-0000-000000000000', `${randomUUID()}%00`).map((value) => ({ raw: true, value })) },
  { weight: 1, arbitrary: fc.uuid().map((value) => ({ raw: false, value })) },
);
const queryString = fc.option(fc.array(fc.tuple(fc.constantFrom('status', 'limit', 'since', 'action', 'score', 'agent', 'alpha', 'experiment', 'status[]', 'status[__proto__]', '__proto__[x]', 'constructor[prototype][x]'), hostileString), { maxLength: 4 })
  .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${encodePathParam(v.slice(0, 3000))}`).join('&')), { nil: undefined });

/** Valid bodies, the starting point of the near-valid mutations. */
const TEMPLATES: Record<string, Record<string, unknown>> = {
  'orchestrator POST /v1/tasks': { input: 'What is 2+2?', agent: 'demo', conversationId: 'c1', userId: 'u1', metadata: { script: [{ content: '4' }] }, mode: 'realtime' },
  'orchestrator POST /v1/tasks/{id}/feedback': { score: 1, comment: 'ok' },
  'orchestrator POST /v1/tasks/{id}/replay': { fromStep: 0, model: 'scripted/default', metadata: {} },
  'orchestrator POST /v1/admin/api-keys': { role: 'viewer', name: 'fuzz', expiresInDays: 1 },
  'orchestrator POST /v1/admin/api-keys/{id}/rotate': { graceSeconds: 0 },
  'approval POST /v1/approvals/{id}/decision': { decision: 'reject', comment: 'no' },
  'router POST /v1/admin/cache/invalidate': { agent: 'demo' },
  'guardrail POST /v1/screen': { text: 'hello', channel: 'user', thresholds: { block: 0.8 }, redactIdentifiers: false },
};

interface HttpAnswer { status: number; text: string }

/** encodeURIComponent, except that a lone surrogate goes out as its (invalid) CESU-8 bytes instead of throwing. */
function encodePathParam(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return value.split('').map((c) => (/[\uD800-\uDFFF]/.test(c) ? '%ED%A0%80' : encodeURIComponent(c))).join('');
  }
}

describe('hostile input on every endpoint and subject (five processes)', () => {
  let keel: KeelStack;
  let db: Client;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let routes: ApiRoute[];
  let adminKey: string;
  const letters = new Map<string, DeadLetter>();
  const accepted = new Map<string, string | undefined>(); // task id → Idempotency-Key of every 202

  /**
   * A raw HTTP/1.1 request (node:http, not fetch): the path goes out as written (`..`, `%00`, `%zz`), and a GET
   * may carry a body, as a hostile client would send them.
   */
  const send = (base: string, path: string, init: { method: string; headers: Record<string, string>; body?: Buffer }): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      const { hostname, port } = new URL(base);
      // A connection per request: no keep-alive socket the server may close under the next request.
      const req = httpRequest({ hostname, port, path, method: init.method, headers: init.headers, timeout: 20_000, agent: false }, (res) => {
        // A live stream (SSE) answers its status at once; do not wait for its end.
        if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          res.destroy();
          resolve({ status: res.statusCode!, text: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer to ${init.method} ${path.slice(0, 200)} within 20 s`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A server that answers before reading the body (413, 415, 431 for huge headers, a route without a body) may close
        // while the client still writes: status 0 here, and the caller checks the process is alive.
        if ((init.body?.length || Object.values(init.headers).join('').length > 8000) && ['ECONNRESET', 'EPIPE'].includes(err.code ?? '')) resolve({ status: 0, text: `connection closed (${err.code})` });
        else reject(err);
      });
      req.end(init.body);
    });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-hostile-'));
    writeFileSync(join(dir, 'gated.yaml'), 'name: gated\nmodel: scripted/default\ntools:\n  - name: http_request\n    allow: ["127.0.0.1:9"]\n    risk: approve\n');
    keel = await startKeel({ agentsDir: dir, env: { KEEL_ANOMALY_MIN_TOKENS_PER_MIN: '100000000' } });
    db = new Client({ connectionString: keel.db.url });
    await db.connect();
    adminKey = (await insertApiKey(db, TENANT, 'admin')).key;
    routes = await fetchRouteInventory(keel);
    nc = await connect({ servers: keel.nats.url, name: 'keel-fuzzer' });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    // Dead letters as they are stored (a JetStream publish reaches core subscribers too); checked against the stream at the end.
    nc.subscribe(Subjects.deadLetterAll, {
      callback: (_err, m) => {
        const parsed = DeadLetterSchema.safeParse(m.json());
        const mark = parsed.success ? parsed.data.headers[MARK_HEADER]?.[0] : undefined;
        if (parsed.success && mark) letters.set(mark, parsed.data);
      },
    });
    console.info(`hostile input: fast-check seed ${SEED}, ${RUNS} runs per endpoint (KEEL_FUZZ_SEED=${SEED} reproduces)`);
  }, 120_000);

  afterAll(async () => {
    // A process that died: its last words, for the report.
    for (const p of keel?.processes() ?? []) if (!p.running) console.error(`${p.service}.${p.replica} died:\n${keel.logs(p.service, p.replica).slice(-4000)}`);
    await nc?.close();
    await db?.end();
    await keel?.stop();
  });

  it('no REST endpoint answers 5xx (or hangs) whatever the path, query, headers and body', async () => {
    const failures: string[] = [];
    const tally = new Map<number, number>();
    for (const r of routes) {
      const template = TEMPLATES[routeKey(r)];
      const arb = fc.record({
        params: fc.array(pathParam, { minLength: 3, maxLength: 3 }),
        query: queryString,
        body: r.method === 'GET' || r.method === 'DELETE' ? fc.option(hostileBody(template), { nil: undefined, freq: 4 }) : hostileBody(template),
        contentType: fc.constantFrom(...CONTENT_TYPES),
        auth: fc.oneof({ weight: 8, arbitrary: fc.constant('admin') }, { weight: 1, arbitrary: fc.constant('none') }, { weight: 1, arbitrary: headerValue.map((v) => `Bearer ${v}`) }, { weight: 1, arbitrary: headerValue }),
        extra: fc.dictionary(fc.constantFrom('Idempotency-Key', 'If-Match', 'Last-Event-ID', 'Accept', 'X-Forwarded-For', 'Content-Encoding', 'Transfer-Encoding-Hint', 'Keel-Tenant'), headerValue, { maxKeys: 3 }),
      });
      const runs = r.path === '/healthz' || r.path === '/readyz' || r.path === '/metrics' || r.path === '/openapi.json' || r.path === '/' ? Math.ceil(RUNS / 5) : RUNS;
      try {
        await fc.assert(fc.asyncProperty(arb, async (req) => {
          let i = 0;
          const path = r.path.replace(/\{\w+\}/g, () => {
            const p = req.params[i++];
            return p.raw ? p.value : encodePathParam(p.value);
          });
          const headers: Record<string, string> = { ...req.extra };
          if (req.auth === 'admin') headers.Authorization = `Bearer ${adminKey}`;
          else if (req.auth !== 'none') headers.Authorization = req.auth;
          if (req.contentType && req.body) headers['Content-Type'] = req.contentType;
          const res = await send(keel.url(r.service), `${path}${req.query ? `?${req.query}` : ''}`, { method: r.method, headers, body: req.body?.bytes });
          if (routeKey(r) === 'orchestrator POST /v1/tasks' && res.status === 202) accepted.set((JSON.parse(res.text) as { id: string }).id, headers['Idempotency-Key']);
          tally.set(res.status, (tally.get(res.status) ?? 0) + 1);
          if (res.status === 0) {
            const alive = await send(keel.url(r.service), '/healthz', { method: 'GET', headers: {} });
            if (alive.status !== 200) throw new Error(`${r.service} is not alive after ${r.method} ${path.slice(0, 200)} closed the connection`);
          }
          if (res.status >= 500) throw new Error(`${r.method} ${path.slice(0, 200)} → ${res.status} ${res.text.slice(0, 300)} (body ${req.body?.kind}: ${req.body?.bytes.subarray(0, 200).toString('latin1')})`);
        }), { seed: SEED, numRuns: runs, endOnFailure: true });
      } catch (err) {
        const e = err as Error & { cause?: Error };
        failures.push(`${routeKey(r)}: ${e.message.split('\n').slice(0, 3).join(' | ')} | cause: ${e.cause?.message ?? '?'}`);
      }
    }
    console.info(`REST fuzzing: ${routes.length} routes, answers by status ${JSON.stringify(Object.fromEntries([...tally].sort((a, b) => a[0] - b[0])))}`);
    expect(failures).toEqual([]);
  }, 240_000);

  it('task submission: every 202 is exactly one task, a repeated Idempotency-Key never makes two, a refusal makes none', async () => {
    const submit = (body: Buffer, key: string) => send(keel.url('orchestrator'), '/v1/tasks', {
      method: 'POST', headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': key }, body,
    });
    const key = fc.oneof(fc.uuid().map((u) => `k-${u}`), headerValue.map((v) => `${v.slice(0, 190)}-${randomUUID().slice(0, 8)}`));
    await fc.assert(fc.asyncProperty(nearValid(TEMPLATES['orchestrator POST /v1/tasks']), key, async (body, k) => {
      // The same submission three times at once, then once more: one task, the same id every time.
      const answers = await Promise.all([submit(body.bytes, k), submit(body.bytes, k), submit(body.bytes, k)]);
      answers.push(await submit(body.bytes, k));
      expect(answers.filter((a) => a.status >= 500)).toEqual([]);
      const ids = new Set(answers.filter((a) => a.status === 202).map((a) => (JSON.parse(a.text) as { id: string }).id));
      expect(ids.size).toBeLessThanOrEqual(1);
      // Either all accepted or none: the verdict on a body does not depend on a race.
      expect(new Set(answers.map((a) => a.status === 202)).size).toBe(1);
      for (const id of ids) {
        accepted.set(id, k);
        // HTTP strips spaces and tabs around a header value: " k " arrives as "k".
        expect(id).toBe(taskIdFor(TENANT, k.replace(/^[ \t]+|[ \t]+$/g, '')));
      }
    }), { seed: SEED, numRuns: RUNS, endOnFailure: true });

    const rows = (await db.query<{ id: string; idempotency_key: string | null }>('SELECT id, idempotency_key FROM orchestrator.tasks WHERE tenant = $1', [TENANT])).rows;
    // Every 202 is one row, and no refused submission left a row behind.
    expect(rows.map((r) => r.id).sort()).toEqual([...accepted.keys()].sort());
    const byKey = new Map<string, number>();
    for (const r of rows) if (r.idempotency_key !== null) byKey.set(r.idempotency_key, (byKey.get(r.idempotency_key) ?? 0) + 1);
    expect([...byKey.entries()].filter(([, n]) => n > 1)).toEqual([]);
  }, 120_000);

  /** One JetStream intake: its stream, its size limit, and the schema its consumer validates with. */
  const INTAKES: { subject: string; stream: string; maxBytes: number; schema: z.ZodType; template: Record<string, unknown> }[] = [
    { subject: Subjects.tasksSubmit, stream: Streams.tasks, maxBytes: 1024 * 1024, schema: SubmitTaskSchema, template: { input: 'hi', agent: 'demo', metadata: { script: [{ content: 'ok' }] } } },
    { subject: Subjects.stepsRun, stream: Streams.steps, maxBytes: 64 * 1024, schema: StepWorkSchema, template: { taskId: randomUUID(), step: 1, reason: 'next' } },
    {
      subject: Subjects.approvalsDecided, stream: Streams.approvals, maxBytes: 256 * 1024, schema: ApprovalDecidedSchema,
      template: { kind: 'decided', gateId: randomUUID(), taskId: randomUUID(), tenant: TENANT, step: 1, index: 0, revision: 0, argsHash: 'a'.repeat(64), signature: 'b'.repeat(64), decision: 'approve', decidedBy: 'x' },
    },
    { subject: Subjects.routerBatchSettled, stream: Streams.batches, maxBytes: 64 * 1024, schema: BatchItemSettledSchema, template: { itemId: 'i', taskId: randomUUID(), tenant: TENANT, step: 1, status: 'completed' } },
  ];
  const natsPayload = (template: Record<string, unknown>): fc.Arbitrary<RawBody> => fc.oneof(
    { weight: 3, arbitrary: hostileJson.map(asJson('wrong-shape')) },
    { weight: 4, arbitrary: nearValid(template) },
    { weight: 1, arbitrary: deepNesting.map((s) => raw('deep-nesting', Buffer.from(s))) },
    { weight: 1, arbitrary: fc.constantFrom(70_000, 300_000, 900_000).map((n) => raw('large', Buffer.from(JSON.stringify({ ...template, input: 'x'.repeat(n) })))) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xff, 0xfe]), Buffer.from('{"a":"\xed\xa0\x80"}', 'latin1'), Buffer.alloc(0), Buffer.from('{'), Buffer.from('{"input":"a\\u0000b"}'), Buffer.from('{"input":"\\ud800"}')).map((bytes) => raw('bad-bytes', bytes)) },
  );
  const stored = (mark: string) => letters.get(mark);

  it.each([0, 1, 2, 3])('every bad message on JetStream intake #%i is dead-lettered with its reason; nothing is lost', async (n) => {
    const intake = INTAKES[n];
    const refusedAtPublish: number[] = [];
    const outcomes: { mark: string; msgId: string; expectDeadLetter: boolean; taskId?: string; stream: string; seq: number; kind: string; text: string }[] = [];
    await fc.assert(fc.asyncProperty(natsPayload(intake.template), fc.option(headerValue, { nil: undefined, freq: 3 }), async (payload, tenantHeader) => {
      const mark = randomUUID();
      const msgId = `fuzz-${mark}`;
      const h = natsHeaders();
      h.set(MARK_HEADER, mark);
      h.set('Keel-Tenant', tenantHeader || TENANT);
      let seq: number;
      try {
        seq = (await js.publish(intake.subject, payload.bytes, { msgID: msgId, headers: h })).seq;
      } catch (err) {
        // Refused by NATS itself (max payload, the stream's max message size): never accepted, so nothing to lose.
        expect({ size: payload.bytes.length, err: String(err) }).toEqual({ size: payload.bytes.length, err: expect.stringMatching(/max(imum)?[ _]?(message|payload)|MAX_PAYLOAD|too large|exceed/i) });
        expect(payload.bytes.length).toBeGreaterThan(intake.subject === Subjects.tasksSubmit ? 1024 * 1024 - 1000 : intake.maxBytes - 1000);
        refusedAtPublish.push(payload.bytes.length);
        return;
      }
      // What the consumer decides (libs/messaging codec + the intake's schema): valid, or a dead letter.
      let valid: boolean;
      try {
        valid = intake.schema.safeParse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload.bytes))).success;
      } catch {
        valid = false;
      }
      const tenant = tenantHeader || TENANT;
      const taskId = intake.subject === Subjects.tasksSubmit && valid ? taskIdFor(tenant, msgId) : undefined;
      outcomes.push({ mark, msgId, expectDeadLetter: !valid, taskId, stream: intake.stream, seq, kind: payload.kind, text: String(payload[fc.toStringMethod]?.() ?? payload.kind) });
      if (!valid) {
        // Dead-lettered before it is acked, with the reason and the original bytes.
        const letter = await waitFor(`dead letter ${mark}`, async () => stored(mark), 15_000, 20);
        const reason = payload.bytes.length > 1024 * 1024 ? 'too_large' : 'validation_error';
        expect({ reason: letter.reason, subject: letter.subject, size: letter.size }).toEqual({ reason, subject: intake.subject, size: payload.bytes.length });
        // The letter keeps the payload (or, when cut, its beginning) as it came.
        const data = letter.encoding === 'base64' ? Buffer.from(letter.data, 'base64') : Buffer.from(letter.data, 'utf8');
        expect(data.equals(payload.bytes.subarray(0, letter.truncated ? data.length : undefined))).toBe(true);
      }
    }), { seed: SEED + n, numRuns: RUNS, endOnFailure: true });

    // Valid ones were processed: a submission became its task or a dead letter with a reason; the rest left the work queue.
    for (const o of outcomes.filter((x) => !x.expectDeadLetter)) {
      await waitFor(`message ${o.mark} settled: ${o.text} (seed ${SEED + n})`, async () => {
        if (stored(o.mark)) return true;
        if (o.taskId) return (await db.query('SELECT 1 FROM orchestrator.tasks WHERE idempotency_key = $1', [o.msgId])).rowCount === 1;
        return (await jsm.streams.getMessage(o.stream, { seq: o.seq }).catch(() => null)) === null;
      }, 30_000, 50);
      const letter = stored(o.mark);
      if (letter) expect(DEAD_LETTER_REASONS).toContain(letter.reason);
    }
    // Nothing left unacked in the work queue.
    await waitFor(`${intake.stream} drained`, async () => (await jsm.streams.info(intake.stream)).state.messages === 0, 30_000, 100);
    // Every dead letter seen live is in KEEL_DLQ (what `keel dead-letters` reads).
    const inStream = new Set((await readAllDeadLetters(keel.nats.url)).letters.map((l) => l.id));
    const marks = outcomes.map((o) => o.mark).filter((m) => stored(m));
    expect(marks.filter((m) => !inStream.has(stored(m)!.id))).toEqual([]);
    console.info(`${intake.subject}: ${outcomes.length} published (${outcomes.filter((o) => o.expectDeadLetter).length} invalid, all dead-lettered), ${refusedAtPublish.length} refused by NATS for size`);
  }, 120_000);

  const REQUEST_SUBJECTS: { subject: string; template: Record<string, unknown> }[] = [
    { subject: Subjects.guardrailScreen, template: { text: 'hello', channel: 'user' } },
    { subject: Subjects.routerComplete, template: { taskId: randomUUID(), tenant: TENANT, agent: 'demo', step: 1, model: 'scripted/default', messages: [{ role: 'user', content: 'hi' }], script: [{ content: 'ok' }], deadline: 1 } },
    { subject: Subjects.routerBatchSubmit, template: { taskId: randomUUID(), tenant: TENANT, agent: 'demo', step: 1, model: 'scripted/default', messages: [{ role: 'user', content: 'hi' }], deadline: 1 } },
    { subject: Subjects.toolsExecute, template: { idempotencyKey: `${randomUUID()}:1:0`, taskId: randomUUID(), tenant: TENANT, agent: 'demo', step: 1, name: 'calculator', arguments: { expression: '2+2' }, timeoutMs: 1000 } },
    { subject: Subjects.toolsDescribe, template: { agent: 'demo' } },
    { subject: Subjects.approvalsCheck, template: { taskId: randomUUID(), tenant: TENANT, agent: 'gated', step: 1, calls: [{ id: 'c1', name: 'calculator', arguments: { expression: '1+1' } }] } },
    { subject: Subjects.approvalsWithdraw, template: { taskId: randomUUID(), tenant: TENANT, reason: 'cancelled' } },
    { subject: Subjects.routerCacheForgetUser, template: { tenant: TENANT, userId: 'nobody', actor: { keyId: 'k', name: 'fuzz' } } },
    { subject: Subjects.authVerify, template: { key: 'keel_not_a_key' } },
    { subject: Subjects.tasksTimeline, template: { taskId: randomUUID(), tenant: TENANT } },
    // The audit log's fan-out: each other service answers for its own table (the orchestrator reads its own directly).
    ...(['approval', 'router', 'tool-executor'] as const).map((service) => ({ subject: Subjects.auditQuery(service), template: { tenant: TENANT, limit: 10 } })),
  ];

  it.each(REQUEST_SUBJECTS.map((s, i) => [s.subject, i] as const))('request/reply %s answers every hostile request with a reply, an error for a bad one (dead-lettered)', async (subject, i) => {
    const { template } = REQUEST_SUBJECTS[i];
    const payload = fc.oneof(
      { weight: 3, arbitrary: hostileJson.map(asJson('wrong-shape')) },
      { weight: 4, arbitrary: nearValid(template) },
      { weight: 1, arbitrary: deepNesting.map((s) => raw('deep-nesting', Buffer.from(s.slice(0, 900_000)))) },
      { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xff, 0xfe]), Buffer.alloc(0), Buffer.from('{'), Buffer.from('{"text":"a\\u0000","channel":"user"}'), Buffer.from(JSON.stringify({ ...template, text: 'z'.repeat(900_000) }))).map((bytes) => raw('bad-bytes', bytes)) },
    );
    await fc.assert(fc.asyncProperty(payload, async (p) => {
      const mark = randomUUID();
      const h = natsHeaders();
      h.set(MARK_HEADER, mark);
      const reply = await nc.request(subject, p.bytes, { timeout: 5_000, headers: h });
      const env = reply.json<{ ok: boolean; error?: { code: string; message: string } }>();
      expect(typeof env.ok).toBe('boolean');
      if (!env.ok) expect(env.error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
      if (!env.ok) expect(env.error!.code).not.toBe('internal');
      if (!env.ok && env.error!.code === 'invalid_request' && /^invalid keel\.v1\.|payload is not valid/.test(env.error!.message)) {
        const letter = await waitFor(`dead letter ${mark}`, async () => stored(mark), 10_000, 20);
        expect(letter).toMatchObject({ reason: 'validation_error', subject });
      }
    }), { seed: SEED + 10 + i, numRuns: RUNS, endOnFailure: true });
  }, 120_000);

  it('every service process is still alive and ready afterwards', async () => {
    for (const p of keel.processes()) {
      expect({ service: p.service, replica: p.replica, running: p.running }).toEqual({ service: p.service, replica: p.replica, running: true });
      const res = await fetch(`${keel.url(p.service, p.replica)}/readyz`);
      expect({ service: p.service, status: res.status }).toEqual({ service: p.service, status: 200 });
    }
    // Task intake still works end to end after all of it.
    const res = await send(keel.url('orchestrator'), '/v1/tasks', { method: 'POST', headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify({ input: 'What is 2+2?' })) });
    expect(res.status).toBe(202);
    const id = (JSON.parse(res.text) as { id: string }).id;
    await waitFor('task after the fuzzing', async () => {
      const t = await send(keel.url('orchestrator'), `/v1/tasks/${id}`, { method: 'GET', headers: { Authorization: `Bearer ${adminKey}` } });
      return (JSON.parse(t.text) as { status: string }).status === 'succeeded';
    }, 30_000, 100);
  });
});
