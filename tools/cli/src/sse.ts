/**
 * An incremental Server-Sent Events parser (the WHATWG event-stream format):
 * feed it text as it arrives, in chunks split anywhere, and it returns the
 * complete events. Handles CRLF, CR and LF line ends, comments, multi-line
 * `data:` and a single optional space after the colon.
 */
export interface SseMessage {
  /** The `event:` field; "message" when absent, as in browsers. */
  event: string;
  data: string;
  /** The last `id:` seen on the stream (it persists across events, per the spec). */
  id?: string;
  retry?: number;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private lastId: string | undefined;
  private retry: number | undefined;
  /** A chunk ending in CR may be half of a CRLF: remember it so the LF is not a second line end. */
  private pendingCr = false;

  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = text.endsWith('\r');
    this.buffer += text;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const msg = this.line(line);
      if (msg) out.push(msg);
    }
    return out;
  }

  /** The stream ended: a trailing event without its blank line is discarded, as the spec says. */
  end(): SseMessage[] {
    this.buffer = '';
    this.data = [];
    this.event = '';
    return [];
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        // Unknown fields are ignored.
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    if (this.data.length === 0) {
      this.event = '';
      return undefined;
    }
    const msg: SseMessage = { event: this.event || 'message', data: this.data.join('\n') };
    if (this.lastId !== undefined) msg.id = this.lastId;
    if (this.retry !== undefined) msg.retry = this.retry;
    this.data = [];
    this.event = '';
    return msg;
  }
}
