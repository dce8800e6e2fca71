import { z } from 'zod';
import { AckPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { KeelError, Streams } from '@keel/contracts';
import type { DeadLetter } from '@keel/contracts';
import { createLogger } from '@keel/telemetry';
import { startNats, waitFor } from '@keel/testing';
import type { TestNats } from '@keel/testing';
import { Bus } from './bus';
import type { StreamDef } from './streams';

const logger = createLogger('test', { level: 'silent' });
const Item = z.object({ n: z.number().int() }).strict();

async function deadLetters(bus: Bus): Promise<DeadLetter[]> {
  const info = await bus.jsm.streams.info(Streams.deadLetters).catch(() => null);
  if (!info) return [];
  const out: DeadLetter[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await bus.jsm.streams.getMessage(Streams.deadLetters, { seq }).catch(() => null);
    if (m) out.push(m.json<DeadLetter>());
  }
  return out;
}

describe('Bus on a real nats-server', () => {
  let nats: TestNats;
  let bus: Bus;
  let n = 0;
  const streamDef = (): StreamDef => {
    n += 1;
    return { name: `T${n}`, subjects: [`test.${n}.work`], retention: RetentionPolicy.Workqueue, storage: StorageType.File };
  };

  beforeAll(async () => {
    nats = await startNats();
    bus = await Bus.connect({ url: nats.url, service: 'test', logger });
  });
  afterAll(async () => {
    await bus.close(1000);
    await nats.stop();
  });

  it('delivers valid work items, de-duplicates by msg id, and acks them away', async () => {
    const def = streamDef();
    const seen: number[] = [];
    await bus.consume({ stream: def, durable: 'w', schema: Item, handler: async (d) => { seen.push(d.n); } });
    const a = await bus.publish(def.subjects[0], { n: 1 }, { msgId: 'one' });
    const b = await bus.publish(def.subjects[0], { n: 1 }, { msgId: 'one' });
    await bus.publish(def.subjects[0], { n: 2 }, { msgId: 'two' });
    expect(b.duplicate).toBe(true);
    expect(b.seq).toBe(a.seq);
    await waitFor('two items', () => seen.length === 2);
    await waitFor('work queue empty', async () => (await bus.jsm.streams.info(def.name)).state.messages === 0);
    expect(seen.sort()).toEqual([1, 2]);
  });

  it('dead-letters a malformed message with the validation error, and keeps consuming', async () => {
    const def = streamDef();
    const seen: number[] = [];
    await bus.consume({ stream: def, durable: 'w', schema: Item, handler: async (d) => { seen.push(d.n); } });
    await bus.js.publish(def.subjects[0], new TextEncoder().encode('{"n": "x"}'), { headers: undefined });
    await bus.js.publish(def.subjects[0], new Uint8Array([0xff, 0xfe]));
    await bus.publish(def.subjects[0], { n: 3 });
    await waitFor('good item', () => seen.includes(3));
    const letters = await waitFor('two dead letters', async () => {
      const l = (await deadLetters(bus)).filter((x) => x.subject === def.subjects[0]);
      return l.length === 2 ? l : undefined;
    });
    expect(letters[0]).toMatchObject({ reason: 'validation_error', service: 'test', data: '{"n": "x"}', encoding: 'utf8', stream: def.name, consumer: 'w' });
    expect(letters[0].error.message).toMatch(/n: .*number/);
    expect(letters[1]).toMatchObject({ reason: 'validation_error', encoding: 'base64', data: Buffer.from([0xff, 0xfe]).toString('base64') });
    expect(letters[1].error.message).toMatch(/not valid UTF-8/);
  });

  it('retries a retryable failure with backoff, then dead-letters after max deliveries and calls the hook', async () => {
    const def = streamDef();
    const attempts: number[] = [];
    const hooked: unknown[] = [];
    await bus.consume({
      stream: def, durable: 'w', schema: Item, maxDeliver: 2,
      handler: async (_d, ctx) => {
        attempts.push(ctx.deliveryCount);
        throw new KeelError('unavailable', 'peer down', { retryable: true, retryAfterMs: 50 });
      },
      onDeadLetter: async (d) => { hooked.push(d); },
    });
    await bus.publish(def.subjects[0], { n: 7 });
    await waitFor('hook', () => hooked.length === 1, 10_000);
    expect(attempts).toEqual([1, 2]);
    expect(hooked[0]).toEqual({ n: 7 });
    const letter = (await deadLetters(bus)).find((l) => l.subject === def.subjects[0]);
    expect(letter).toMatchObject({ reason: 'max_deliveries', deliveries: 2, error: { code: 'unavailable', message: 'peer down' } });
    expect((await bus.jsm.streams.info(def.name)).state.messages).toBe(0);
  });

  it('dead-letters a terminal error at once', async () => {
    const def = streamDef();
    let calls = 0;
    await bus.consume({ stream: def, durable: 'w', schema: Item, handler: async () => { calls++; throw new KeelError('invalid_request', 'cannot ever work'); } });
    await bus.publish(def.subjects[0], { n: 1 });
    const letter = await waitFor('letter', async () => (await deadLetters(bus)).find((l) => l.subject === def.subjects[0]));
    expect(letter).toMatchObject({ reason: 'terminal_error', error: { code: 'invalid_request' } });
    expect(calls).toBe(1);
  });

  it('answers requests, maps handler errors, dead-letters malformed requests, and times out', async () => {
    bus.serve({ subject: 'test.echo', queue: 'q', schema: Item, handler: async (r) => {
      if (r.n < 0) throw new KeelError('not_found', 'negative');
      return { doubled: r.n * 2 };
    } });
    const Reply = z.object({ doubled: z.number() });
    await expect(bus.request('test.echo', { n: 21 }, Reply, { timeoutMs: 2000 })).resolves.toEqual({ doubled: 42 });
    await expect(bus.request('test.echo', { n: -1 }, Reply, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'not_found', message: 'negative' });
    await expect(bus.request('test.echo', { n: 'x' }, Reply, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'invalid_request' });
    const letter = await waitFor('letter', async () => (await deadLetters(bus)).find((l) => l.subject === 'test.echo'));
    expect(letter.reason).toBe('validation_error');
    await expect(bus.request('test.nobody', { n: 1 }, Reply, { timeoutMs: 500 })).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    bus.serve({ subject: 'test.slow', queue: 'q', schema: Item, handler: async () => new Promise((r) => setTimeout(() => r({ doubled: 0 }), 1000)) });
    await expect(bus.request('test.slow', { n: 1 }, Reply, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'timeout', retryable: true });
  });

  it('hands unfinished work back on close so another consumer gets it', async () => {
    const def = streamDef();
    const other = await Bus.connect({ url: nats.url, service: 'test', logger });
    const done: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    await other.consume({ stream: def, durable: 'w', schema: Item, ackWaitMs: 30_000, handler: async (d) => { if (d.n === 1) await gate; done.push(`a${d.n}`); } });
    await other.publish(def.subjects[0], { n: 1 });
    await waitFor('in flight', async () => (await other.jsm.consumers.info(def.name, 'w')).num_ack_pending === 1);
    const closing = other.close(5000);
    release();
    await closing;
    expect(done).toEqual(['a1']); // the in-flight item finished before close returned
    await bus.consume({ stream: def, durable: 'w', schema: Item, handler: async (d) => { done.push(`b${d.n}`); } });
    await bus.publish(def.subjects[0], { n: 2 });
    await waitFor('second consumer', () => done.includes('b2'));
  });

  it('lets a request already being handled answer before close drains the connection', async () => {
    const server = await Bus.connect({ url: nats.url, service: 'test', logger });
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let started = false;
    server.serve({ subject: 'test.slow', queue: 'test', schema: Item, handler: async (d) => { started = true; await gate; return { doubled: d.n * 2 }; } });
    // The subscription must reach the server before the request does (else: no responders, under load).
    await server.nc.flush();
    const answer = bus.request('test.slow', { n: 21 }, z.object({ doubled: z.number() }), { timeoutMs: 5_000 });
    await waitFor('handler started', () => started);
    const closing = server.close(5_000);
    setTimeout(release, 200);
    await expect(answer).resolves.toEqual({ doubled: 42 });
    await closing;
  });
  describe('size limits (maxMessageBytes, KEEL_MAX_MESSAGE_BYTES)', () => {
    const Padded = z.object({ n: z.number().int(), pad: z.string() }).strict();
    let small: Bus;
    beforeAll(async () => {
      small = await Bus.connect({ url: nats.url, service: 'test', logger, maxMessageBytes: 4096 });
    });
    afterAll(async () => {
      await small.close(1000);
    });

    it('dead-letters an oversized work item as too_large without parsing it, acks it, and keeps consuming', async () => {
      const def = streamDef();
      const seen: number[] = [];
      const hooked: unknown[] = [];
      await small.consume({ stream: def, durable: 'w', schema: Padded, handler: async (d) => { seen.push(d.n); }, onDeadLetter: async (d, l) => { hooked.push([d, l.reason]); } });
      const big = { n: 1, pad: 'x'.repeat(40_000) }; // valid for the schema: only its size is wrong
      await small.publish(def.subjects[0], big);
      await small.publish(def.subjects[0], { n: 2, pad: 'ok' });
      await waitFor('small item', () => seen.includes(2));
      const letter = await waitFor('too_large letter', async () => (await deadLetters(bus)).find((x) => x.subject === def.subjects[0]));
      expect(letter).toMatchObject({ reason: 'too_large', error: { code: 'payload_too_large' }, stream: def.name, consumer: 'w', truncated: true, encoding: 'utf8' });
      expect(letter.size).toBeGreaterThan(40_000);
      expect(letter.data.length).toBeLessThan(40_000); // a prefix is kept, not the whole payload
      expect(letter.error.message).toMatch(/above the 4096-byte limit/);
      expect(seen).toEqual([2]);
      await waitFor('hook', () => hooked.length === 1);
      expect(hooked[0]).toEqual([undefined, 'too_large']);
      await waitFor('work queue empty', async () => (await small.jsm.streams.info(def.name)).state.messages === 0);
    });

    it('answers an oversized request with payload_too_large without calling the handler', async () => {
      let calls = 0;
      small.serve({ subject: 'test.sized', queue: 'q', schema: Padded, handler: async (r) => { calls++; return { n: r.n }; } });
      await small.nc.flush(); // the subscription reaches the server before another connection's request
      const Reply = z.object({ n: z.number() });
      await expect(bus.request('test.sized', { n: 1, pad: 'x'.repeat(10_000) }, Reply, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'payload_too_large', details: { limit: 4096 } });
      expect(calls).toBe(0);
      await expect(bus.request('test.sized', { n: 2, pad: 'y' }, Reply, { timeoutMs: 2000 })).resolves.toEqual({ n: 2 });
      expect(calls).toBe(1);
      const letter = await waitFor('too_large request letter', async () => (await deadLetters(bus)).find((x) => x.subject === 'test.sized'));
      expect(letter).toMatchObject({ reason: 'too_large', error: { code: 'payload_too_large' } });
    });
  });

  it('a deferrable consumer hands a rate-limited message back with its delay, past maxDeliver, and never dead-letters it', async () => {
    const def = streamDef();
    let deliveries = 0;
    const done: number[] = [];
    // An existing consumer from before (finite max_deliver with a backoff list) is updated in place.
    await bus.ensureStream(def);
    await bus.ensureConsumer(def.name, { durable_name: 'w', ack_policy: AckPolicy.Explicit, max_deliver: 2, backoff: [nanos(30_000)], filter_subject: def.subjects[0] });
    await bus.consume({
      stream: def, durable: 'w', schema: Item, maxDeliver: 2, deferrable: true,
      handler: async (d) => {
        deliveries++;
        if (deliveries <= 5) throw new KeelError('rate_limited', 'over the limit', { retryable: true, retryAfterMs: 50 });
        done.push(d.n);
      },
    });
    expect((await bus.jsm.consumers.info(def.name, 'w')).config.max_deliver).toBe(-1);
    await bus.publish(def.subjects[0], { n: 7 });
    await waitFor('processed after five deferrals', () => done.length === 1, 10_000);
    expect(deliveries).toBe(6);
    expect((await deadLetters(bus)).filter((x) => x.subject === def.subjects[0])).toEqual([]);
  });

  it('a deferrable consumer still dead-letters after maxDeliver failed attempts, not counting its deferrals', async () => {
    const def = streamDef();
    let deliveries = 0;
    await bus.consume({
      stream: def, durable: 'w', schema: Item, maxDeliver: 2, deferrable: true,
      handler: async () => {
        deliveries++;
        if (deliveries <= 3) throw new KeelError('rate_limited', 'over the limit', { retryable: true, retryAfterMs: 20 });
        throw new KeelError('unavailable', 'down', { retryable: true, retryAfterMs: 20 });
      },
    });
    await bus.publish(def.subjects[0], { n: 8 });
    const letter = await waitFor('max_deliveries letter', async () => (await deadLetters(bus)).find((x) => x.subject === def.subjects[0]), 10_000);
    expect(letter).toMatchObject({ reason: 'max_deliveries', deliveries: 5 });
    expect(deliveries).toBe(5); // 3 deferrals + 2 failed attempts
  });
});
