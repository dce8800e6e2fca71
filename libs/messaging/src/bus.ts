import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/nats-core';
import { NoRespondersError, TimeoutError as NatsTimeoutError, nanos, RequestError } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, JetStreamApiError } from '@nats-io/jetstream';
import type { ConsumerConfig, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg, PubAck } from '@nats-io/jetstream';
import type { z } from 'zod';
import { KeelError, Subjects } from '@keel/contracts';
import type { DeadLetter, ErrorBody } from '@keel/contracts';
import type { Context, Logger } from '@keel/telemetry';
import { context, counter, extractContext, histogram, injectContext, SpanKind, withSpan } from '@keel/telemetry';
import { carrierOf, decodeJson, encodeJson, headersToRecord, newHeaders } from './codec';
import { inboxPrefix } from './permissions';
import { STREAMS } from './streams';
import type { StreamDef } from './streams';

/**
 * Keel's messaging on NATS. Two kinds of hop (docs/architecture.md):
 *  - JetStream work items (`consume`): durable, explicitly acked, redelivered
 *    with backoff, dead-lettered with a reason when they cannot be processed;
 *  - request/reply (`serve` / `request`): a synchronous answer with a timeout,
 *    for hops whose caller already holds a durable work item.
 * Every message carries W3C trace context in its headers.
 */
export interface BusOptions {
  url: string;
  service: string;
  instance?: string;
  logger: Logger;
  /** Extra connection name suffix, for `nats server report connections`. */
  name?: string;
  /** JetStream replicas for the streams this service creates (3 on a 3-node NATS cluster). */
  streamReplicas?: number;
  /** The service's NATS user (docs/nats-security.md); none on a server without authorization. */
  user?: string;
  password?: string;
  /** TLS to NATS: the CA that signed the server's certificate, and a client certificate for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Largest payload `consume` and `serve` accept, checked before parsing (KEEL_MAX_MESSAGE_BYTES; default 1 MiB). */
  maxMessageBytes?: number;
}

/** Default of `BusOptions.maxMessageBytes`: nats-server's own default max_payload. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** What a `too_large` dead letter keeps of the payload: enough to see what it was, small enough to store. */
const TOO_LARGE_KEEP_BYTES = 16 * 1024;

export interface DeliveryContext {
  subject: string;
  headers: MsgHdrs | undefined;
  deliveryCount: number;
  streamSeq: number;
  msg: JsMsg;
}

export interface ConsumeSpec<T> {
  stream: StreamDef;
  durable: string;
  filterSubject?: string;
  schema: z.ZodType<T>;
  handler: (data: T, ctx: DeliveryContext) => Promise<void>;
  /** Deliveries before a failing message is dead-lettered. */
  maxDeliver?: number;
  /** How long the server waits for an ack before redelivering (heartbeats extend it). */
  ackWaitMs?: number;
  /** Parallel handlers per process. */
  concurrency?: number;
  /**
   * A handler may defer a message by throwing a `rate_limited` KeelError: it is nak'ed with its
   * `retryAfterMs` and comes back later, not counted as a failed attempt and never dead-lettered for it.
   * The server's max_deliver is then unlimited (deferrals count as deliveries there); the bus counts
   * failed attempts itself, per process.
   */
  deferrable?: boolean;
  /** Called after a message was dead-lettered (e.g. to fail the task it belonged to). */
  onDeadLetter?: (data: T | undefined, letter: DeadLetter) => Promise<void>;
}

export interface ServeSpec<Req, Res> {
  subject: string;
  queue: string;
  schema: z.ZodType<Req>;
  handler: (req: Req, ctx: { headers: MsgHdrs | undefined; subject: string }) => Promise<Res>;
}

export interface RequestOptions {
  timeoutMs: number;
  headers?: Record<string, string>;
}

type Envelope = { ok: true; result: unknown } | { ok: false; error: ErrorBody };

const consumed = counter('keel_messages_consumed_total', 'JetStream work items processed, by outcome', ['stream', 'consumer', 'outcome']);
const deadLettered = counter('keel_dead_letters_total', 'Messages dead-lettered, by subject and reason', ['subject', 'reason']);
const served = histogram('keel_request_handler_seconds', 'Request/reply handler latency', ['subject', 'outcome']);
const requested = histogram('keel_request_seconds', 'Request/reply round trip seen by the caller', ['subject', 'outcome']);

export class Bus {
  private readonly consumptions = new Set<Consumption>();
  private readonly subscriptions: Subscription[] = [];
  /** Request handlers running now: a shutdown lets them answer before NATS and Postgres close under them. */
  private readonly requestsInFlight = new Set<Promise<void>>();

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly opts: BusOptions,
  ) {}

  static async connect(opts: BusOptions): Promise<Bus> {
    const nc = await connect({
      servers: opts.url,
      name: `keel-${opts.service}-${opts.instance ?? '0'}${opts.name ? `-${opts.name}` : ''}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 5000,
      // A captured stack per request costs CPU on every hop; our errors carry the subject instead.
      noAsyncTraces: true,
      // Replies come back on the service's own inboxes: its NATS user may subscribe to nothing else's (permissions.ts).
      inboxPrefix: inboxPrefix(opts.service),
      ...(opts.user ? { user: opts.user, pass: opts.password } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
    });
    const bus = new Bus(nc, jetstream(nc), await jetstreamManager(nc), opts);
    void bus.watchStatus();
    return bus;
  }

  get service(): string {
    return this.opts.service;
  }

  isConnected(): boolean {
    return !this.nc.isClosed() && !this.nc.isDraining();
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
        this.opts.logger.warn({ nats_status: s.type }, `NATS ${s.type}`);
      }
    }
  }

  /** Creates the stream, or updates it when its config changed. Idempotent. */
  async ensureStream(stream: StreamDef): Promise<void> {
    const def: StreamDef = { ...stream, num_replicas: this.opts.streamReplicas ?? stream.num_replicas ?? 1 };
    try {
      await this.jsm.streams.add(def);
    } catch (err) {
      if (err instanceof JetStreamApiError && /already in use|already exists/i.test(err.message)) {
        await this.jsm.streams.update(def.name, def);
      } else {
        throw err;
      }
    }
  }

  async ensureConsumer(stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<void> {
    try {
      await this.jsm.consumers.add(stream, config);
    } catch (err) {
      if (err instanceof JetStreamApiError && /already (in use|exists)/i.test(err.message)) {
        await this.jsm.consumers.update(stream, config.durable_name, config);
      } else {
        throw err;
      }
    }
  }

  /** JetStream publish; `msgId` becomes Nats-Msg-Id so a repeated publish is de-duplicated. */
  async publish(subject: string, payload: unknown, opts: { msgId?: string; headers?: Record<string, string>; ctx?: Context } = {}): Promise<PubAck> {
    const h = newHeaders(opts.headers);
    injectContext(carrierOf(h), opts.ctx ?? context.active());
    return this.js.publish(subject, encodeJson(payload), { msgID: opts.msgId, headers: h });
  }

  /** Core NATS publish (at most once), for live notifications whose durable copy lives elsewhere. */
  notify(subject: string, payload: unknown): void {
    const h = newHeaders();
    injectContext(carrierOf(h));
    this.nc.publish(subject, encodeJson(payload), { headers: h });
  }

  /** Starts a durable pull consumer and processes its messages until `close()`. */
  async consume<T>(spec: ConsumeSpec<T>): Promise<Consumption> {
    await this.ensureStream(STREAMS.deadLetters);
    await this.ensureStream(spec.stream);
    const ackWaitMs = spec.ackWaitMs ?? 30_000;
    const maxDeliver = spec.maxDeliver ?? 5;
    await this.ensureConsumer(spec.stream.name, {
      durable_name: spec.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ackWaitMs),
      max_deliver: spec.deferrable ? -1 : maxDeliver,
      // Redelivery after a silent consumer (crash): every value ≥ ack_wait, because
      // the server uses backoff[0] as the first ack deadline.
      // A deferrable consumer's unlimited max_deliver admits no backoff list (cleared explicitly, for an
      // existing consumer being updated): redelivery after ack_wait.
      ...(spec.deferrable ? { backoff: [] } : maxDeliver > 1 ? { backoff: [ackWaitMs, ackWaitMs * 2, ackWaitMs * 4].slice(0, maxDeliver - 1).map(nanos) } : {}),
      max_ack_pending: 10_000,
      filter_subject: spec.filterSubject ?? spec.stream.subjects[0],
    });
    const c = new Consumption(this, spec as ConsumeSpec<unknown>, ackWaitMs, maxDeliver, this.opts.logger);
    this.consumptions.add(c);
    await c.start();
    await this.watchMaxDeliveries(spec as ConsumeSpec<unknown>);
    return c;
  }

  /**
   * A message whose last delivery crashed its consumer is never seen by our
   * handler again; the server announces it with an advisory. We fetch it from
   * the stream, dead-letter it and delete it, so nothing sits unseen.
   */
  private async watchMaxDeliveries(spec: ConsumeSpec<unknown>): Promise<void> {
    const subject = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${spec.stream.name}.${spec.durable}`;
    const sub = this.nc.subscribe(subject, {
      queue: `${spec.durable}-advisories`,
      callback: (err, msg) => {
        if (err) return;
        void this.handleMaxDeliveries(spec, msg).catch((e: unknown) => this.opts.logger.error({ err: e }, 'max-deliveries advisory handling failed'));
      },
    });
    this.subscriptions.push(sub);
  }

  private async handleMaxDeliveries(spec: ConsumeSpec<unknown>, msg: Msg): Promise<void> {
    const adv = msg.json<{ stream_seq: number; deliveries: number }>();
    const stored = await this.jsm.streams.getMessage(spec.stream.name, { seq: adv.stream_seq }).catch(() => null);
    if (!stored) return; // already acked or dead-lettered by the handler itself
    const decoded = decodeJson(stored.data);
    const parsed = decoded.ok ? spec.schema.safeParse(decoded.value) : undefined;
    const letter = await this.deadLetter({
      subject: stored.subject,
      headers: stored.header,
      data: stored.data,
      reason: 'max_deliveries',
      error: { code: 'max_deliveries', message: `not acknowledged after ${adv.deliveries} deliveries (the consumer died or timed out each time)` },
      stream: spec.stream.name,
      streamSeq: adv.stream_seq,
      consumer: spec.durable,
      deliveries: adv.deliveries,
    });
    await this.jsm.streams.deleteMessage(spec.stream.name, adv.stream_seq).catch(() => false);
    await spec.onDeadLetter?.(parsed?.success ? parsed.data : undefined, letter);
  }

  /** Answers requests on a subject in a queue group; bad requests are dead-lettered and answered with an error. */
  serve<Req, Res>(spec: ServeSpec<Req, Res>): void {
    const sub = this.nc.subscribe(spec.subject, {
      queue: spec.queue,
      callback: (err, msg) => {
        if (err) {
          this.opts.logger.error({ err }, `subscription to ${spec.subject} failed`);
          return;
        }
        // Never an unhandled rejection (it would end the process): e.g. the dead letter of a bad request could not be stored.
        const running = this.handleRequest(spec, msg).catch((e: unknown) => this.opts.logger.error({ err: e, subject: spec.subject }, 'request handling failed'));
        this.requestsInFlight.add(running);
        void running.finally(() => this.requestsInFlight.delete(running));
      },
    });
    this.subscriptions.push(sub);
  }

  /** @internal */
  get maxMessageBytes(): number {
    return this.opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** @internal The error for a payload above `maxMessageBytes`. */
  tooLarge(subject: string, size: number): KeelError {
    return new KeelError('payload_too_large', `${subject} payload is ${size} bytes, above the ${this.maxMessageBytes}-byte limit (KEEL_MAX_MESSAGE_BYTES)`, {
      details: { size, limit: this.maxMessageBytes },
    });
  }

  private async handleRequest<Req, Res>(spec: ServeSpec<Req, Res>, msg: Msg): Promise<void> {
    const started = performance.now();
    const parent = msg.headers ? extractContext(carrierOf(msg.headers)) : context.active();
    const reply = (env: Envelope) => {
      if (msg.reply) msg.respond(encodeJson(env));
    };
    let outcome = 'ok';
    try {
      await withSpan(`process ${spec.subject}`, { kind: SpanKind.SERVER, parent, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': spec.subject, 'keel.service': this.opts.service } }, async () => {
        if (msg.data.length > this.maxMessageBytes) {
          // Checked before parsing: a huge payload costs no JSON parse or validation.
          const error = this.tooLarge(msg.subject, msg.data.length);
          outcome = 'too_large';
          await this.deadLetter({ subject: msg.subject, headers: msg.headers, data: msg.data, reason: 'too_large', error: error.toJSON(), keepBytes: TOO_LARGE_KEEP_BYTES });
          reply({ ok: false, error: error.toJSON() });
          return;
        }
        const decoded = decodeJson(msg.data);
        const parsed = decoded.ok ? spec.schema.safeParse(decoded.value) : undefined;
        if (!decoded.ok || !parsed?.success) {
          const error = !decoded.ok
            ? new KeelError('invalid_request', decoded.message)
            : new KeelError('invalid_request', `invalid ${spec.subject} request: ${formatIssues(parsed!.error!)}`, { details: parsed!.error!.issues });
          outcome = 'invalid';
          await this.deadLetter({ subject: msg.subject, headers: msg.headers, data: msg.data, reason: 'validation_error', error: error.toJSON() });
          reply({ ok: false, error: error.toJSON() });
          return;
        }
        try {
          const result = await spec.handler(parsed.data, { headers: msg.headers, subject: msg.subject });
          reply({ ok: true, result });
        } catch (err) {
          const e = KeelError.wrap(err);
          outcome = e.code;
          if (e.code === 'internal') this.opts.logger.error({ err, subject: spec.subject }, 'request handler failed');
          reply({ ok: false, error: e.toJSON() });
        }
      });
    } finally {
      served.observe({ subject: spec.subject, outcome }, (performance.now() - started) / 1000);
    }
  }

  /** Sends a request and validates the reply; failures come back as KeelError (timeouts and no responders are retryable). */
  async request<Res>(subject: string, payload: unknown, schema: z.ZodType<Res>, opts: RequestOptions): Promise<Res> {
    const started = performance.now();
    let outcome = 'ok';
    try {
      return await withSpan(`send ${subject}`, { kind: SpanKind.CLIENT, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject } }, async () => {
        const h = newHeaders(opts.headers);
        injectContext(carrierOf(h));
        let reply: Msg;
        try {
          reply = await this.nc.request(subject, encodeJson(payload), { timeout: opts.timeoutMs, headers: h });
        } catch (err) {
          throw toKeelError(err, subject, opts.timeoutMs);
        }
        const decoded = decodeJson(reply.data);
        if (!decoded.ok) throw new KeelError('internal', `reply on ${subject}: ${decoded.message}`);
        const env = decoded.value as Envelope;
        if (env.ok === false) throw KeelError.fromJSON(env.error);
        const parsed = schema.safeParse(env.result);
        if (!parsed.success) throw new KeelError('internal', `reply on ${subject} does not match its contract: ${formatIssues(parsed.error)}`);
        return parsed.data;
      });
    } catch (err) {
      outcome = err instanceof KeelError ? err.code : 'error';
      throw err;
    } finally {
      requested.observe({ subject, outcome }, (performance.now() - started) / 1000);
    }
  }

  /** Records a message that cannot be processed on `keel.v1.dlq.<service>`, with its reason. */
  async deadLetter(input: {
    subject: string;
    headers: MsgHdrs | undefined;
    data: Uint8Array;
    reason: DeadLetter['reason'];
    error: { code: string; message: string; details?: unknown };
    stream?: string;
    streamSeq?: number;
    consumer?: string;
    deliveries?: number;
    /** How much of the payload the letter keeps (default 1 MiB). */
    keepBytes?: number;
  }): Promise<DeadLetter> {
    const MAX = input.keepBytes ?? 1024 * 1024;
    const truncated = input.data.length > MAX;
    const bytes = truncated ? input.data.subarray(0, MAX) : input.data;
    let data: string;
    let encoding: DeadLetter['encoding'] = 'utf8';
    try {
      data = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      data = Buffer.from(bytes).toString('base64');
      encoding = 'base64';
    }
    const letter: DeadLetter = {
      id: randomUUID(),
      service: this.opts.service,
      subject: input.subject,
      reason: input.reason,
      error: input.error,
      headers: headersToRecord(input.headers),
      data,
      encoding,
      size: input.data.length,
      truncated,
      stream: input.stream,
      streamSeq: input.streamSeq,
      consumer: input.consumer,
      deliveries: input.deliveries,
      at: new Date().toISOString(),
    };
    deadLettered.inc({ subject: input.subject, reason: input.reason });
    this.opts.logger.warn({ dead_letter: { id: letter.id, subject: letter.subject, reason: letter.reason, error: letter.error } }, 'message dead-lettered');
    let payload = encodeJson(letter);
    const limit = (this.nc.info?.max_payload ?? DEFAULT_MAX_MESSAGE_BYTES) - 4096;
    if (payload.length > limit) {
      // JSON escaping (quotes, control characters) can grow the kept bytes past what NATS carries: keep fewer, as base64 (4/3).
      if (input.error.details !== undefined) letter.error = { code: input.error.code, message: input.error.message.slice(0, 4096) };
      const room = Math.max(0, Math.floor(((limit - encodeJson({ ...letter, data: '' }).length) * 3) / 4));
      Object.assign(letter, { data: Buffer.from(bytes.subarray(0, room)).toString('base64'), encoding: 'base64', truncated: true });
      payload = encodeJson(letter);
    }
    await this.js.publish(Subjects.deadLetter(this.opts.service), payload, { msgID: letter.id });
    return letter;
  }

  /**
   * Stops pulling, waits for in-flight handlers (up to timeoutMs), hands back the rest; stops taking
   * requests and lets the ones already taken answer (a request cut off by the shutdown would reach its
   * caller as an error, or as nothing at all), then drains.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await Promise.all([...this.consumptions].map((c) => c.stop(timeoutMs)));
    await Promise.all(this.subscriptions.map((s) => s.drain().catch(() => s.unsubscribe())));
    const left = Math.max(0, deadline - Date.now());
    await Promise.race([Promise.allSettled([...this.requestsInFlight]), new Promise((r) => setTimeout(r, left).unref())]);
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }

  /** @internal */
  metricsFor(spec: ConsumeSpec<unknown>, outcome: string): void {
    consumed.inc({ stream: spec.stream.name, consumer: spec.durable, outcome });
  }
}

/** One running durable consumer. */
export class Consumption {
  private messages?: ConsumerMessages;
  private readonly inflight = new Set<Promise<void>>();
  private stopping = false;
  private loop?: Promise<void>;
  /** Deferrable consumers: deferrals per stream sequence (they are not failed attempts). Bounded; lost on restart. */
  private readonly deferrals = new Map<number, number>();

  constructor(
    private readonly bus: Bus,
    private readonly spec: ConsumeSpec<unknown>,
    private readonly ackWaitMs: number,
    private readonly maxDeliver: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const consumer = await this.bus.js.consumers.get(this.spec.stream.name, this.spec.durable);
    const concurrency = this.spec.concurrency ?? 64;
    this.messages = await consumer.consume({ max_messages: concurrency });
    this.loop = this.run(concurrency);
  }

  private async run(concurrency: number): Promise<void> {
    try {
      for await (const m of this.messages!) {
        if (this.stopping) {
          m.nak(); // hand it back at once: another replica takes it
          continue;
        }
        const p = this.process(m).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
        if (this.inflight.size >= concurrency) await Promise.race(this.inflight);
      }
    } catch (err) {
      if (!this.stopping) this.logger.error({ err, consumer: this.spec.durable }, 'consumer loop ended');
    }
  }

  private async process(m: JsMsg): Promise<void> {
    const spec = this.spec;
    const deliveryCount = m.info.deliveryCount;
    const parent = m.headers ? extractContext(carrierOf(m.headers)) : context.active();
    // Tell the server we are alive so a long handler is not redelivered to another replica.
    const beat = setInterval(() => m.working(), Math.max(200, Math.floor(this.ackWaitMs / 3)));
    try {
      await withSpan(`process ${m.subject}`, {
        kind: SpanKind.CONSUMER, parent,
        attributes: { 'messaging.system': 'nats', 'messaging.destination.name': m.subject, 'messaging.consumer.group.name': spec.durable, 'messaging.message.delivery_count': deliveryCount },
      }, async () => {
        if (m.data.length > this.bus.maxMessageBytes) {
          // Checked before parsing; redelivering would not make it smaller.
          const error = this.bus.tooLarge(m.subject, m.data.length);
          await this.toDeadLetter(m, undefined, 'too_large', error.toJSON(), TOO_LARGE_KEEP_BYTES);
          return;
        }
        const decoded = decodeJson(m.data);
        const parsed = decoded.ok ? spec.schema.safeParse(decoded.value) : undefined;
        if (!decoded.ok || !parsed?.success) {
          const message = !decoded.ok ? decoded.message : `invalid ${m.subject} message: ${formatIssues(parsed!.error!)}`;
          await this.toDeadLetter(m, undefined, 'validation_error', { code: 'validation_failed', message, details: parsed?.error?.issues });
          return;
        }
        try {
          await spec.handler(parsed.data, { subject: m.subject, headers: m.headers, deliveryCount, streamSeq: m.seq, msg: m });
          m.ack();
          this.deferrals.delete(m.seq);
          this.bus.metricsFor(spec, 'ack');
        } catch (err) {
          const e = KeelError.wrap(err);
          if (spec.deferrable && e.code === 'rate_limited') {
            // Over a rate limit: come back later; not a failure, never a dead letter.
            const before = this.deferrals.get(m.seq) ?? 0;
            this.deferrals.delete(m.seq);
            if (this.deferrals.size >= 100_000) this.deferrals.delete(this.deferrals.keys().next().value!);
            this.deferrals.set(m.seq, before + 1);
            m.nak(Math.max(1, e.retryAfterMs ?? 1000));
            this.bus.metricsFor(spec, 'deferred');
            return;
          }
          // Failed attempts: deliveries minus this process's deferrals of the message.
          const attempts = deliveryCount - (this.deferrals.get(m.seq) ?? 0);
          // Unknown errors (a database blip, a peer restarting) are retried; only a
          // KeelError that says it is terminal goes straight to the dead-letter store.
          const retry = err instanceof KeelError ? err.retryable : true;
          if (retry && attempts < this.maxDeliver) {
            const delay = e.retryAfterMs ?? backoffDelay(deliveryCount);
            this.logger.warn({ err: e.toJSON(), subject: m.subject, delivery: deliveryCount, retry_in_ms: delay }, 'handler failed, will retry');
            m.nak(delay);
            this.bus.metricsFor(spec, 'nak');
          } else {
            await this.toDeadLetter(m, parsed.data, retry ? 'max_deliveries' : 'terminal_error', e.toJSON());
          }
        }
      });
    } catch (err) {
      // Dead-lettering itself failed (NATS down): leave the message unacked so it is redelivered.
      this.logger.error({ err, subject: m.subject }, 'could not settle message; it will be redelivered');
    } finally {
      clearInterval(beat);
    }
  }

  private async toDeadLetter(m: JsMsg, data: unknown, reason: DeadLetter['reason'], error: ErrorBody | { code: string; message: string; details?: unknown }, keepBytes?: number): Promise<void> {
    this.deferrals.delete(m.seq);
    const letter = await this.bus.deadLetter({
      subject: m.subject, headers: m.headers, data: m.data, reason, error, keepBytes,
      stream: this.spec.stream.name, streamSeq: m.seq, consumer: this.spec.durable, deliveries: m.info.deliveryCount,
    });
    // Acked only after the dead letter is stored: a crash in between redelivers, never loses.
    m.ack();
    this.bus.metricsFor(this.spec, 'dead_letter');
    try {
      await this.spec.onDeadLetter?.(data, letter);
    } catch (err) {
      this.logger.error({ err }, 'onDeadLetter hook failed');
    }
  }

  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }
}

/** 1 s, 2 s, 4 s … capped at 60 s, plus 0–50 % jitter (design.md retry defaults). */
export function backoffDelay(deliveryCount: number, random: () => number = Math.random): number {
  const base = Math.min(60_000, 1000 * 2 ** Math.max(0, deliveryCount - 1));
  return Math.round(base * (1 + 0.5 * random()));
}

export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

function toKeelError(err: unknown, subject: string, timeoutMs: number): KeelError {
  const cause = err instanceof RequestError ? (err.cause ?? err) : err;
  if (cause instanceof NoRespondersError || (err instanceof Error && /no responders/i.test(err.message))) {
    return new KeelError('unavailable', `no service is answering on ${subject}`, { retryable: true, cause: err });
  }
  if (cause instanceof NatsTimeoutError || (err instanceof Error && /timeout/i.test(err.message))) {
    return new KeelError('timeout', `no reply on ${subject} within ${timeoutMs} ms`, { retryable: true, cause: err });
  }
  return new KeelError('unavailable', `request on ${subject} failed: ${(err as Error)?.message ?? String(err)}`, { retryable: true, cause: err });
}
