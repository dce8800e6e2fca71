import { setTimeout as sleep } from 'node:timers/promises';
import type { Replica } from './services';
import { localUrl } from './banner';

export interface Probe {
  ready: boolean;
  /** What /readyz said (status and body), or why it could not be asked. */
  detail: string;
}

const MAX_DETAIL = 400;

export async function probeReady(port: number, timeoutMs = 2000): Promise<Probe> {
  try {
    const res = await fetch(`${localUrl(port)}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).trim();
    const shown = body.length > MAX_DETAIL ? `${body.slice(0, MAX_DETAIL)}…` : body;
    return { ready: res.status === 200, detail: `HTTP ${res.status}${shown ? ` ${shown}` : ''}` };
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause?.code;
    const detail = typeof cause === 'string' ? cause : err instanceof Error ? err.message : String(err);
    return { ready: false, detail: `no answer (${detail})` };
  }
}

export interface WaitOptions {
  intervalMs?: number;
  /** After this long, `onSlow` hears which replicas are still not ready and why. */
  slowAfterMs?: number;
  onSlow: (pending: { replica: Replica; detail: string }[]) => void;
  signal: AbortSignal;
}

/** Polls every replica's /readyz until each has answered 200 once. Resolves false if aborted. */
export async function waitUntilReady(replicas: readonly Replica[], opts: WaitOptions): Promise<boolean> {
  const started = Date.now();
  const pending = new Map(replicas.map((r) => [r.label, { replica: r, detail: 'not asked yet' }]));
  let warned = false;
  while (pending.size > 0) {
    if (opts.signal.aborted) return false;
    await Promise.all([...pending.values()].map(async (p) => {
      const probe = await probeReady(p.replica.port);
      if (probe.ready) pending.delete(p.replica.label);
      else p.detail = probe.detail;
    }));
    if (pending.size === 0) break;
    if (!warned && Date.now() - started >= (opts.slowAfterMs ?? 60_000)) {
      warned = true;
      opts.onSlow([...pending.values()]);
    }
    try {
      await sleep(opts.intervalMs ?? 500, undefined, { signal: opts.signal });
    } catch {
      return false;
    }
  }
  return true;
}
