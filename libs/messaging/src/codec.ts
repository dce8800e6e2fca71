import type { MsgHdrs } from '@nats-io/nats-core';
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { HeaderCarrier } from '@keel/telemetry';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export const encodeJson = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

export type Decoded = { ok: true; value: unknown } | { ok: false; message: string };

export function decodeJson(data: Uint8Array): Decoded {
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    return { ok: false, message: 'payload is not valid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, message: `payload is not valid JSON: ${(err as Error).message}` };
  }
}

/** MsgHdrs as an OpenTelemetry propagation carrier. */
export function carrierOf(h: MsgHdrs): HeaderCarrier {
  return { get: (k) => (h.has(k) ? h.get(k) : undefined), set: (k, v) => h.set(k, v) };
}

export function newHeaders(values: Record<string, string> = {}): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(values)) h.set(k, v);
  return h;
}

export function headersToRecord(h: MsgHdrs | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!h) return out;
  for (const key of h.keys()) {
    // Credentials never reach the dead-letter store.
    out[key] = /^authorization$/i.test(key) ? ['[REDACTED]'] : h.values(key);
  }
  return out;
}
