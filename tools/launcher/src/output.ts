import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { formatLine, prefix, SERVICE_COLOURS, ansi } from './log-format';
import { SERVICES, isServiceName } from './services';

/**
 * The launcher's single console: every line from every child and from the
 * launcher itself goes through here, whole lines only, so output of parallel
 * processes never interleaves mid-line.
 */
export class Output {
  readonly colour: boolean;

  constructor(readonly raw: boolean, private width = 8, colour?: boolean) {
    this.colour = colour ?? (process.stdout.isTTY === true && !process.env.NO_COLOR);
    // `npm start | head` closes our stdout: keep supervising rather than crash on EPIPE.
    process.stdout.on('error', () => undefined);
  }

  setWidth(width: number): void {
    this.width = width;
  }

  private colourOf(label: string): string | undefined {
    const service = label.split('.')[0];
    if (!isServiceName(service)) return ansi.bold;
    return SERVICE_COLOURS[SERVICES.indexOf(service) % SERVICE_COLOURS.length];
  }

  /** A line of child output (JSON rendered unless --raw). */
  child(label: string, line: string): void {
    const pre = prefix(label, this.width, this.colourOf(label), { colour: this.colour });
    process.stdout.write(`${formatLine(pre, line, { raw: this.raw, colour: this.colour })}\n`);
  }

  /** A message from the launcher itself. */
  info(message: string): void {
    const pre = prefix('launcher', this.width, ansi.bold, { colour: this.colour });
    process.stdout.write(`${message.split('\n').map((l) => `${pre} ${l}`).join('\n')}\n`);
  }

  warn(message: string): void {
    this.info(this.colour ? `${ansi.yellow}${message}${ansi.reset}` : message);
  }

  /** Text printed as is (the banner). */
  plain(text: string): void {
    process.stdout.write(`${text}\n`);
  }

  /** Feeds a child's stdout/stderr through `child()` line by line. */
  pipe(label: string, stream: Readable | null): void {
    if (!stream) return;
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => this.child(label, line));
  }
}
