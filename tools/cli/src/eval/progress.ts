/**
 * The progress bar of `keel eval`, on stderr. On a terminal one line is
 * redrawn after every case; otherwise (CI logs, a pipe) a line is printed
 * each time another 10 % of the cases is done, and at the end.
 */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const WIDTH = 24;

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export class Progress {
  private done = 0;
  private failed = 0;
  private lastDecile = 0;
  private drawn = false;

  constructor(private readonly total: number, private readonly out: ProgressStream, private readonly now: () => number = Date.now, private readonly started = now()) {}

  /** The line for the current state: `[#########---------------]  18/50  36 %  2 failed  4.1 s`. */
  line(): string {
    const ratio = this.total === 0 ? 1 : this.done / this.total;
    const filled = Math.round(ratio * WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}]`;
    const count = `${String(this.done).padStart(String(this.total).length)}/${this.total}`;
    const failed = this.failed > 0 ? `  ${this.failed} failed` : '';
    return `${bar} ${count} ${String(Math.floor(ratio * 100)).padStart(3)} %${failed}  ${formatDuration(this.now() - this.started)}`;
  }

  start(): void {
    if (this.out.isTTY) this.draw();
  }

  tick(pass: boolean): void {
    this.done++;
    if (!pass) this.failed++;
    if (this.out.isTTY) {
      this.draw();
      return;
    }
    const decile = this.total === 0 ? 10 : Math.floor((this.done * 10) / this.total);
    if (decile > this.lastDecile || this.done === this.total) {
      this.lastDecile = decile;
      this.out.write(`eval ${this.line()}\n`);
    }
  }

  /** Ends the redrawn line (a terminal); nothing otherwise. */
  finish(): void {
    if (this.out.isTTY && this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  private draw(): void {
    const text = this.line();
    const max = this.out.columns && this.out.columns > 10 ? this.out.columns - 1 : text.length;
    this.out.write(`\r\u001b[2K${text.slice(0, max)}`);
    this.drawn = true;
  }
}
