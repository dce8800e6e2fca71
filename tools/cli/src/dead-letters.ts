import { connect } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { DeadLetterSchema, Streams, Subjects } from '@keel/contracts';
import type { DeadLetterRow } from './format';

export type DeadLetterResult =
  | { state: 'missing' }
  | { state: 'empty' }
  | { state: 'ok'; rows: DeadLetterRow[]; total: number; scanned: number };

/** NATS could not be reached: printed with a hint, exit 1. */
export class NatsUnavailable extends Error {}

export interface ReadOptions {
  service?: string;
  limit: number;
}

/**
 * Reads KEEL_DLQ straight from JetStream, newest first, by sequence with
 * `getMessage` (works on nats-server 2.9, creates no consumer, changes
 * nothing). Returns at most `limit` letters, oldest first.
 */
export async function readDeadLetters(natsUrl: string, opts: ReadOptions): Promise<DeadLetterResult> {
  let nc;
  try {
    nc = await connect({ servers: natsUrl, timeout: 2000, reconnect: false, name: 'keel-cli' });
  } catch (err) {
    throw new NatsUnavailable(`cannot reach NATS at ${natsUrl} (${err instanceof Error ? err.message : String(err)})`);
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    let info;
    try {
      info = await jsm.streams.info(Streams.deadLetters);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return { state: 'missing' };
      throw err;
    }
    const { first_seq: first, last_seq: last, messages } = info.state;
    if (messages === 0) return { state: 'empty' };
    const wanted = opts.service === undefined ? undefined : Subjects.deadLetter(opts.service);
    const rows: DeadLetterRow[] = [];
    let scanned = 0;
    for (let seq = last; seq >= first && rows.length < opts.limit; seq--) {
      scanned += 1;
      // Deleted or expired sequences leave gaps: getMessage answers null for them.
      const m = await jsm.streams.getMessage(Streams.deadLetters, { seq }).catch(() => null);
      if (!m) continue;
      const text = m.string();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const result = DeadLetterSchema.safeParse(parsed);
      const row: DeadLetterRow = result.success
        ? { seq, letter: result.data, subject: result.data.subject }
        : { seq, raw: text, subject: m.subject, time: m.time.toISOString() };
      // Filter on the DLQ subject and on the letter's own `service`, so either naming finds it.
      if (opts.service !== undefined && m.subject !== wanted && row.letter?.service !== opts.service) continue;
      rows.push(row);
    }
    return { state: 'ok', rows: rows.reverse(), total: messages, scanned };
  } finally {
    await nc.close().catch(() => undefined);
  }
}
