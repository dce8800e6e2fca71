import type { Worker } from 'node:worker_threads';

export interface HostedWorker {
  worker: Worker;
  ready: Promise<void>;
}

/**
 * One worker thread that runs one job at a time (so a time limit belongs to
 * one job), started on first use and replaced after it dies or is killed.
 * Subclasses start it (`start()`, which sets `running`) and define the jobs;
 * the calculator and QuickJS sandboxes share this.
 */
export abstract class SerialWorkerHost<R extends HostedWorker> {
  protected running?: R;
  private tail: Promise<unknown> = Promise.resolve();

  /** Starts a worker and records it in `running`. */
  protected abstract start(): R;

  /** Queues `job` behind the one in flight. */
  protected serial<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Starts the worker ahead of the first job (loading its library takes a moment). */
  async warmUp(): Promise<void> {
    await (this.running ?? this.start()).ready;
  }

  async dispose(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    if (running) await running.worker.terminate();
  }
}
