import { setTimeout as sleep } from 'node:timers/promises';
import type { DemoTask } from './banner';
import { demoSummary, localUrl } from './banner';

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);
export const DEMO_INPUT = 'What is 2+2?';

async function call(url: string, init: RequestInit, signal: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { ...init, signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text for the message below.
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new Error(e ? `${e.code}: ${e.message}` : `HTTP ${res.status} ${text.slice(0, 200)}`);
  }
  return body;
}

/**
 * Submits one task to the `demo` agent and follows it to a terminal status,
 * so a fresh `npm start` visibly runs an agent end to end. Returns the lines to print.
 */
export async function runDemo(port: number, apiKey: string, signal: AbortSignal, timeoutMs = 120_000): Promise<string> {
  const base = localUrl(port);
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const started = Date.now();
  const created = (await call(`${base}/v1/tasks`, {
    method: 'POST', headers, body: JSON.stringify({ input: DEMO_INPUT, agent: 'demo' }),
  }, signal)) as { id: string };
  for (;;) {
    const task = (await call(`${base}/v1/tasks/${encodeURIComponent(created.id)}`, { headers }, signal)) as DemoTask;
    if (TERMINAL.has(task.status)) return demoSummary(task, Date.now() - started);
    if (Date.now() - started > timeoutMs) {
      return `demo task ${created.id} is still ${task.status} after ${timeoutMs / 1000} s; follow it with: npx keel events ${created.id}`;
    }
    await sleep(300, undefined, { signal });
  }
}
