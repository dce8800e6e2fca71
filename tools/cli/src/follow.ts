import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskEvent } from '@keel/contracts';
import { ConnectError } from './api';
import type { KeelClient } from './api';
import { isTerminalEvent, isTerminalStatus, toTaskEvent } from './format';

const MAX_RECONNECTS = 5;

/**
 * A task's events until it is over. The server ends the stream after the
 * terminal event; if the stream ends early (a replica restarting, a proxy
 * timeout), resume with Last-Event-ID, skipping events already seen.
 */
export async function* followEvents(client: KeelClient, id: string): AsyncGenerator<TaskEvent> {
  let lastSeq: number | undefined;
  let retries = 0;
  for (;;) {
    try {
      for await (const msg of client.events(id, lastSeq === undefined ? undefined : String(lastSeq))) {
        const event = toTaskEvent(msg);
        if (!event) continue;
        if (lastSeq !== undefined && event.seq <= lastSeq) continue;
        lastSeq = event.seq;
        retries = 0;
        yield event;
        if (isTerminalEvent(event)) return;
      }
    } catch (err) {
      // Only a broken connection is worth retrying; API errors (404, 401) are final.
      if (!(err instanceof ConnectError) || retries >= MAX_RECONNECTS) throw err;
    }
    const task = await client.task(id);
    if (isTerminalStatus(task.status)) return;
    retries += 1;
    if (retries > MAX_RECONNECTS) {
      throw new ConnectError(`${id}/events`, `the event stream ended ${MAX_RECONNECTS} times while the task was still ${task.status}`);
    }
    await sleep(Math.min(1000 * retries, 5000));
  }
}
