import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { RestartBackoff } from './backoff';
import type { Output } from './output';
import type { Replica } from './services';
import { serviceEntry } from './services';

interface Managed {
  replica: Replica;
  proc?: ChildProcess;
  startedAt: number;
  backoff: RestartBackoff;
  restartTimer?: NodeJS.Timeout;
}

export interface SupervisorOptions {
  root: string;
  replicas: readonly Replica[];
  env: (replica: Replica) => NodeJS.ProcessEnv;
  out: Output;
  /** Grace period between SIGTERM and SIGKILL on shutdown. */
  graceMs?: number;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/**
 * Runs one child process per replica and restarts any that exits while we are
 * not shutting down, with exponential backoff, as Kubernetes would.
 * Children get their own process group, so a terminal's Ctrl-C reaches only
 * the launcher, which then shuts them down in order (and the group signal also
 * reaches anything a service spawned, such as sandboxed tool runs).
 */
export class Supervisor {
  private readonly children: Managed[];
  private stopping = false;

  constructor(private readonly opts: SupervisorOptions) {
    this.children = opts.replicas.map((replica) => ({ replica, startedAt: 0, backoff: new RestartBackoff() }));
    // Last resort if the launcher itself dies: leave no orphans behind.
    process.on('exit', () => this.signalAll('SIGKILL'));
  }

  start(): void {
    for (const c of this.children) this.spawn(c);
  }

  private spawn(c: Managed): void {
    const { replica } = c;
    const entry = join(this.opts.root, serviceEntry(replica.service));
    c.startedAt = Date.now();
    const proc = spawn(process.execPath, [entry], {
      cwd: this.opts.root,
      env: this.opts.env(replica),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    c.proc = proc;
    this.opts.out.pipe(replica.label, proc.stdout);
    this.opts.out.pipe(replica.label, proc.stderr);
    proc.on('error', (err) => {
      this.opts.out.warn(`${replica.label}: could not start (${err.message})`);
    });
    proc.on('exit', (code, signal) => this.onExit(c, proc, code, signal));
  }

  private onExit(c: Managed, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (c.proc === proc) c.proc = undefined;
    if (this.stopping) return;
    const uptime = Date.now() - c.startedAt;
    const delay = c.backoff.next(uptime);
    const how = signal ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
    this.opts.out.warn(
      `${c.replica.label} ${how} after ${seconds(uptime)}; restarting in ${seconds(delay)} (restart #${c.backoff.restarts})`,
    );
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      if (this.stopping) return;
      this.opts.out.info(`restarting ${c.replica.label} on port ${c.replica.port}`);
      this.spawn(c);
    }, delay);
  }

  private signalAll(signal: NodeJS.Signals): void {
    for (const c of this.children) {
      const pid = c.proc?.pid;
      if (pid === undefined || c.proc?.exitCode !== null || c.proc.signalCode !== null) continue;
      try {
        process.kill(-pid, signal);
      } catch {
        // The group may be gone already; try the process itself.
        c.proc.kill(signal);
      }
    }
  }

  private live(): Managed[] {
    return this.children.filter((c) => c.proc !== undefined);
  }

  /** SIGTERM every child, wait up to the grace period, then SIGKILL what is left. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const c of this.children) if (c.restartTimer) clearTimeout(c.restartTimer);
    const waiting = this.live().map((c) => new Promise<void>((resolve) => c.proc?.once('exit', () => resolve())));
    if (waiting.length === 0) return;
    const graceMs = this.opts.graceMs ?? 15_000;
    this.opts.out.info(`stopping ${waiting.length} process${waiting.length === 1 ? '' : 'es'} (SIGTERM; SIGKILL after ${seconds(graceMs)}, or press Ctrl-C again)`);
    this.signalAll('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const late = await Promise.race([Promise.all(waiting).then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      const names = this.live().map((c) => c.replica.label).join(', ');
      this.opts.out.warn(`still running after ${seconds(graceMs)}: ${names}; sending SIGKILL`);
      this.killNow();
      await Promise.all(waiting);
    }
  }

  /** The second Ctrl-C: no more waiting. */
  killNow(): void {
    this.stopping = true;
    for (const c of this.children) if (c.restartTimer) clearTimeout(c.restartTimer);
    this.signalAll('SIGKILL');
  }
}
