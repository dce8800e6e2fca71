/**
 * stdout and stderr of one run under one shared byte budget. The first chunk
 * that does not fit is cut at the budget and `onOverflow` fires once, so the
 * caller can kill the run: 1 GB of output costs only what the budget holds.
 */
export class OutputCollector {
  private readonly chunks: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };
  private used = 0;
  private overflowed = false;

  constructor(private readonly maxBytes: number, private readonly onOverflow: () => void = () => undefined) {}

  get truncated(): boolean {
    return this.overflowed;
  }

  get bytes(): number {
    return this.used;
  }

  push(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.overflowed) return;
    const room = this.maxBytes - this.used;
    if (chunk.length > room) {
      if (room > 0) this.chunks[stream].push(chunk.subarray(0, room));
      this.used = this.maxBytes;
      this.overflowed = true;
      this.onOverflow();
      return;
    }
    this.chunks[stream].push(chunk);
    this.used += chunk.length;
  }

  /** UTF-8 text; a character cut at the budget becomes U+FFFD. */
  text(stream: 'stdout' | 'stderr'): string {
    return Buffer.concat(this.chunks[stream]).toString('utf8');
  }
}
