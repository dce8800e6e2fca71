import { readSse } from './sse';
import type { SseEvent } from './sse';

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(encoder.encode(part));
      controller.close();
    },
  });
}

async function collect(parts: string[]): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of readSse(streamOf(parts))) events.push(event);
  return events;
}

describe('readSse', () => {
  it('parses events split at arbitrary byte boundaries, with event names', async () => {
    const text = 'event: message_start\ndata: {"a":1}\n\ndata: [DONE]\n\n';
    const parts = text.split('').reduce<string[]>((acc, ch, i) => (i % 5 === 0 ? [...acc, ch] : [...acc.slice(0, -1), acc.at(-1) + ch]), []);
    expect(await collect(parts)).toEqual([{ event: 'message_start', data: '{"a":1}' }, { data: '[DONE]' }]);
  });

  it('accepts CRLF and CR line ends, comments and multi-line data', async () => {
    expect(await collect([': keep-alive\r\ndata: a\r\ndata: b\r\n\r', '\ndata:c\r\r'])).toEqual([{ data: 'a\nb' }, { data: 'c' }]);
  });

  it('drops an event that the stream cut off before its blank line', async () => {
    expect(await collect(['data: whole\n\n', 'data: {"half":'])).toEqual([{ data: 'whole' }]);
  });

  it('cancels the body when the consumer stops early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('data: x\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of readSse(body)) {
      expect(event.data).toBe('x');
      break;
    }
    expect(cancelled).toBe(true);
  });
});
