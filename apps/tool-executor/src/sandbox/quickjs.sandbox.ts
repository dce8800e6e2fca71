import { Worker } from 'node:worker_threads';
import { KeelError } from '@keel/contracts';
import type { KillReason, RunResult } from './process.sandbox';
import { SerialWorkerHost } from './worker-host';

/**
 * `language: "js"`: JavaScript in QuickJS compiled to WebAssembly
 * (quickjs-emscripten), no process. The interpreter has no host APIs at all:
 * no require, process, fs, fetch or timers; `console.log` (and info, debug,
 * warn, error) is the only thing added, and it writes to the run's captured
 * output. Each run gets a fresh runtime and context with a memory limit and a
 * deadline checked by QuickJS's interrupt handler.
 *
 * QuickJS runs in a worker thread, not on the executor's event loop, so a
 * busy loop never stalls other calls. A run that outlives its deadline by a
 * second (a long native builtin that never reaches an interrupt check) has its
 * worker terminated and replaced.
 */

export interface JsRunRequest {
  code: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A process run's result plus the JSON value of the last expression (absent when it has no JSON form). */
export type JsRunResult = RunResult & { result?: unknown };

export interface QuickJsSandboxOptions {
  memoryMb?: number;
  outputBytes?: number;
  /** Extra time after the deadline before the worker is terminated. */
  graceMs?: number;
}

// Plain JavaScript because it runs as `eval` worker source (see calculator.sandbox.ts).
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { getQuickJS } = require(workerData.quickjs);

function run(QuickJS, { code, timeoutMs, memoryBytes, outputBytes }) {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  const out = { stdout: '', stderr: '', bytes: 0, truncated: false };
  let interrupted = false;
  const write = (stream, text) => {
    if (out.truncated) return;
    const bytes = Buffer.byteLength(text);
    if (out.bytes + bytes > outputBytes) {
      out[stream] += Buffer.from(text).subarray(0, outputBytes - out.bytes).toString('utf8');
      out.bytes = outputBytes;
      out.truncated = true;
      return;
    }
    out[stream] += text;
    out.bytes += bytes;
  };
  const rt = QuickJS.newRuntime();
  rt.setMemoryLimit(memoryBytes);
  rt.setMaxStackSize(512 * 1024);
  // Also stops a run that keeps printing after the output cap.
  rt.setInterruptHandler(() => {
    if (out.truncated || Date.now() > deadline) {
      interrupted = true;
      return true;
    }
    return false;
  });
  const vm = rt.newContext();
  let exitCode = 0;
  let killed;
  let result;
  try {
    const show = (h) => {
      const type = vm.typeof(h);
      if (type === 'string') return vm.getString(h);
      const v = vm.dump(h);
      if (v !== null && typeof v === 'object') {
        try { return JSON.stringify(v); } catch { return String(v); }
      }
      return String(v);
    };
    const consoleHandle = vm.newObject();
    for (const [name, stream] of [['log', 'stdout'], ['info', 'stdout'], ['debug', 'stdout'], ['warn', 'stderr'], ['error', 'stderr']]) {
      const fn = vm.newFunction(name, (...args) => { write(stream, args.map(show).join(' ') + '\n'); });
      vm.setProp(consoleHandle, name, fn);
      fn.dispose();
    }
    vm.setProp(vm.global, 'console', consoleHandle);
    consoleHandle.dispose();

    const fail = (errHandle) => {
      const e = vm.dump(errHandle);
      errHandle.dispose();
      const name = e && typeof e === 'object' && e.name ? e.name : 'Error';
      const message = e && typeof e === 'object' && 'message' in e ? e.message : String(e);
      const stack = e && typeof e === 'object' && e.stack ? '\n' + e.stack : '';
      write('stderr', 'Uncaught ' + name + ': ' + message + stack + (stack.endsWith('\n') ? '' : '\n'));
      exitCode = 1;
      if (out.truncated && interrupted) killed = 'output';
      else if (interrupted) killed = 'timeout';
      else if (message === 'out of memory') killed = 'memory';
    };

    const evaluated = vm.evalCode(code, 'main.js', { type: 'global' });
    if (evaluated.error) {
      fail(evaluated.error);
    } else {
      let value = evaluated.value;
      // Promise jobs (then callbacks, async functions) run to completion, within the same deadline.
      const jobs = rt.executePendingJobs(-1);
      if (jobs.error) {
        value.dispose();
        value = undefined;
        fail(jobs.error);
      }
      if (value) {
        const state = vm.getPromiseState(value);
        if (state.type === 'fulfilled' && !state.notAPromise) {
          value.dispose();
          value = state.value;
        } else if (state.type === 'rejected') {
          value.dispose();
          value = undefined;
          fail(state.error);
        } else if (state.type === 'pending') {
          value.dispose();
          value = undefined;
          write('stderr', 'the last expression is a promise that never settled\n');
        }
      }
      if (value) {
        const json = vm.getProp(vm.global, 'JSON');
        const stringify = vm.getProp(json, 'stringify');
        const text = vm.callFunction(stringify, json, value);
        stringify.dispose();
        json.dispose();
        if (text.error) {
          // BigInt, cycles: the value as text instead.
          text.error.dispose();
          result = show(value);
        } else {
          if (vm.typeof(text.value) === 'string') {
            const s = vm.getString(text.value);
            if (Buffer.byteLength(s) + out.bytes > outputBytes) {
              write('stderr', 'the value of the last expression is larger than the output limit and was left out\n');
              out.truncated = true;
              killed = 'output';
            } else {
              result = JSON.parse(s);
            }
          }
          text.value.dispose();
        }
        value.dispose();
      }
    }
  } catch (err) {
    write('stderr', 'sandbox error: ' + (err && err.message ? err.message : String(err)) + '\n');
    exitCode = 1;
    if (interrupted) killed = out.truncated ? 'output' : 'timeout';
  } finally {
    try { vm.dispose(); } catch {}
    try { rt.dispose(); } catch {}
  }
  if (out.truncated && !killed) killed = 'output';
  return { exitCode, stdout: out.stdout, stderr: out.stderr, truncated: out.truncated, durationMs: Math.round((performance.now() - started) * 100) / 100, killed, result };
}

getQuickJS().then((QuickJS) => {
  parentPort.on('message', (msg) => {
    let reply;
    try {
      reply = { id: msg.id, ok: true, result: run(QuickJS, msg) };
    } catch (err) {
      reply = { id: msg.id, ok: false, message: err && err.message ? String(err.message) : String(err) };
    }
    parentPort.postMessage(reply);
  });
  parentPort.postMessage({ ready: true });
}, (err) => {
  parentPort.postMessage({ failed: String(err && err.message ? err.message : err) });
});
`;

type WorkerReply = { ready: true } | { failed: string } | { id: number; ok: true; result: JsRunResult } | { id: number; ok: false; message: string };

interface Running {
  worker: Worker;
  ready: Promise<void>;
}

export class QuickJsSandbox extends SerialWorkerHost<Running> {
  private nextId = 1;
  private readonly memoryBytes: number;
  private readonly outputBytes: number;
  private readonly graceMs: number;

  constructor(options: QuickJsSandboxOptions = {}) {
    super();
    this.memoryBytes = (options.memoryMb ?? 64) * 1024 * 1024;
    this.outputBytes = options.outputBytes ?? 1024 * 1024;
    this.graceMs = options.graceMs ?? 1_000;
  }

  /** Runs one snippet; runs are serialized so each deadline belongs to one snippet. */
  run(req: JsRunRequest): Promise<JsRunResult> {
    return this.serial(() => this.runNow(req));
  }

  protected start(): Running {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { quickjs: require.resolve('quickjs-emscripten') },
      // QuickJS's own heap is WebAssembly memory (capped by setMemoryLimit); this is the host side's.
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      stdout: true,
      stderr: true,
    });
    worker.unref();
    const running: Running = { worker, ready: Promise.resolve() };
    running.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (msg: WorkerReply): void => {
        if ('ready' in msg) {
          worker.off('message', onMessage);
          resolve();
        } else if ('failed' in msg) {
          worker.off('message', onMessage);
          reject(new Error(msg.failed));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', () => reject(new Error('the QuickJS worker stopped while starting')));
    });
    running.ready.catch(() => undefined);
    worker.once('exit', () => {
      if (this.running === running) this.running = undefined;
    });
    worker.on('error', () => undefined);
    this.running = running;
    return running;
  }

  private async runNow(req: JsRunRequest): Promise<JsRunResult> {
    if (req.signal?.aborted) throw new KeelError('timeout', 'run_code: the deadline passed before the snippet ran');
    const running = this.running ?? this.start();
    const started = performance.now();
    try {
      await running.ready;
    } catch (err) {
      await this.kill(running);
      throw new KeelError('unavailable', `run_code: sandbox_unavailable: QuickJS could not start (${(err as Error).message})`, { cause: err, details: { reason: 'sandbox_unavailable' } });
    }
    const id = this.nextId++;
    const { worker } = running;
    return new Promise<JsRunResult>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        req.signal?.removeEventListener('abort', onAbort);
      };
      const onMessage = (msg: WorkerReply): void => {
        if (!('id' in msg) || msg.id !== id) return;
        cleanup();
        if (msg.ok) {
          const r = msg.result;
          const out: JsRunResult = { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, truncated: r.truncated, durationMs: r.durationMs };
          if (r.killed) out.killed = r.killed;
          if (r.result !== undefined) out.result = r.result;
          resolve(out);
        } else {
          reject(new KeelError('tool_error', `run_code: the JavaScript sandbox failed: ${msg.message}`));
        }
      };
      const onExit = (): void => {
        cleanup();
        reject(new KeelError('tool_error', 'run_code: the JavaScript sandbox stopped during the run'));
      };
      // Backstop: a run stuck past its deadline (no interrupt check reached) loses its worker.
      const stop = (killed: KillReason): void => {
        cleanup();
        this.kill(running).catch(() => undefined);
        const durationMs = Math.round((performance.now() - started) * 100) / 100;
        resolve({ exitCode: 137, stdout: '', stderr: `the snippet did not stop at its deadline and was terminated\n`, truncated: false, durationMs, killed });
      };
      const onAbort = (): void => stop('timeout');
      const timer = setTimeout(() => stop('timeout'), req.timeoutMs + this.graceMs);
      req.signal?.addEventListener('abort', onAbort, { once: true });
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.postMessage({ id, code: req.code, timeoutMs: req.timeoutMs, memoryBytes: this.memoryBytes, outputBytes: this.outputBytes });
    });
  }

  private async kill(running: Running): Promise<void> {
    if (this.running === running) this.running = undefined;
    await running.worker.terminate();
  }
}
