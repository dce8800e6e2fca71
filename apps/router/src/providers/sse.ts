/**
 * A minimal Server-Sent Events reader (WHATWG "event stream interpretation"),
 * enough for the OpenAI and Anthropic streaming APIs. An event is dispatched
 * only at a blank line, so an event cut off by a dropped connection is never
 * seen: the caller notices the missing terminal event instead.
 */
export interface SseEvent {
  /** The `event:` field; undefined when the server sent none (OpenAI never does). */
  event?: string;
  /** The `data:` lines joined by "\n". */
  data: string;
}

export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event: string | undefined;
  let data: string[] = [];
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) finished = true;
      else buffer += decoder.decode(value, { stream: true });
      let lineEnd: RegExpExecArray | null;
      // A lone "\r" at the end of the buffer may be half of "\r\n": wait for more input, unless there is none.
      while ((lineEnd = (finished ? /\r\n|\n|\r/ : /\r\n|\n|\r(?!$)/).exec(buffer)) !== null) {
        const line = buffer.slice(0, lineEnd.index);
        buffer = buffer.slice(lineEnd.index + lineEnd[0].length);
        if (line === '') {
          if (data.length > 0) yield event === undefined ? { data: data.join('\n') } : { event, data: data.join('\n') };
          event = undefined;
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue; // a comment (keep-alive)
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
      }
      if (finished) return;
    }
  } finally {
    // The consumer stopped early (an error, or it had what it needed): free the connection.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
