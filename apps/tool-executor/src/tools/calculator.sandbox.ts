import { Worker } from 'node:worker_threads';
import { KeelError } from '@keel/contracts';
import { SerialWorkerHost } from '../sandbox/worker-host';

/**
 * Runs mathjs in a worker thread with its own small heap. A vm timeout alone
 * is not enough: `zeros(30000, 30000)` or an outer product of two long ranges
 * allocates close to 1 GB in under a second and can take the whole service
 * down. In a worker, running out of heap or time ends only the worker, which
 * is then replaced.
 */

/**
 * Functions that parse strings into expressions or change the shared instance
 * (mathjs security guidance, plus `config`, which an expression could call to
 * switch every later evaluation to BigNumber, and `typed`).
 */
export const DISABLED_FUNCTIONS = [
  'import', 'createUnit', 'reviver', 'evaluate', 'parse', 'compile', 'parser',
  'simplify', 'simplifyConstant', 'simplifyCore', 'derivative', 'rationalize', 'resolve',
  'leafCount', 'symbolicEqual', 'config', 'typed', 'help',
] as const;
/** mathjs uses these internally: they are refused in the expression tree instead of replaced. */
const NOT_REPLACEABLE = ['config', 'typed', 'help'];
export const MAX_RESULT_LENGTH = 10_000;

// Plain JavaScript because it runs as `eval` worker source: no separate compiled
// entry file to keep in step between src (tests) and dist (production).
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { create, all } = require(workerData.mathjs);
const math = create(all);
const parse = math.parse; // kept before expressions lose access to it
const replacements = {};
for (const name of workerData.disabled) {
  if (workerData.notReplaceable.includes(name)) continue;
  replacements[name] = () => { throw new Error('function ' + name + ' is disabled'); };
}
math.import(replacements, { override: true });
const blocked = new Set(workerData.disabled);

function checkTree(node) {
  node.traverse((n) => {
    // User-defined functions allow unbounded recursion; a calculator does not need them.
    if (n.type === 'FunctionAssignmentNode') throw new Error('defining functions is not supported');
    if (n.type === 'SymbolNode' && blocked.has(n.name)) throw new Error('function ' + n.name + ' is disabled');
  });
}

function toResult(value) {
  let v = value;
  if (math.isResultSet(v)) {
    if (v.entries.length === 0) throw new Error('the expression did not produce a value');
    v = v.entries[v.entries.length - 1];
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('the result is ' + String(v) + ', not a finite number');
    return v;
  }
  if (typeof v === 'boolean' || typeof v === 'string') return String(v);
  const formattable = math.isBigNumber(v) || math.isComplex(v) || math.isUnit(v) || math.isFraction(v)
    || math.isMatrix(v) || Array.isArray(v);
  if (!formattable) throw new Error('the expression did not produce a number');
  const text = math.isBigNumber(v) ? math.format(v) : math.format(v, { precision: 14 });
  if (/\b(?:NaN|Infinity)\b/.test(text)) throw new Error('the result (' + text.slice(0, 200) + ') is not finite');
  if (text.length > workerData.maxResultLength) throw new Error('the result is longer than ' + workerData.maxResultLength + ' characters');
  return text;
}

parentPort.on('message', ({ id, expression }) => {
  try {
    const node = parse(expression);
    checkTree(node);
    // A fresh scope per call: assignments never leak between calls.
    const result = toResult(node.compile().evaluate(new Map()));
    parentPort.postMessage({ id, ok: true, result });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, message: err && err.message ? String(err.message) : String(err) });
  }
});
parentPort.postMessage({ ready: true });
`;

type WorkerReply = { ready: true } | { id: number; ok: true; result: number | string } | { id: number; ok: false; message: string };

export interface CalculatorSandboxOptions {
  /** Heap for the worker; mathjs itself needs about 30 MB. */
  maxHeapMb?: number;
  startupTimeoutMs?: number;
}

function toolError(message: string, cause?: unknown): KeelError {
  return new KeelError('tool_error', `calculator: ${message}`, { cause });
}

interface Running {
  worker: Worker;
  ready: Promise<void>;
  /** Set when the worker dies; the reason for whichever call was in flight. */
  death?: Error;
}

export class CalculatorSandbox extends SerialWorkerHost<Running> {
  private nextId = 1;
  private readonly maxHeapMb: number;
  private readonly startupTimeoutMs: number;

  constructor(options: CalculatorSandboxOptions = {}) {
    super();
    this.maxHeapMb = options.maxHeapMb ?? 128;
    this.startupTimeoutMs = options.startupTimeoutMs ?? 15_000;
  }

  /** Evaluates one expression; calls run one at a time so a time limit belongs to one expression. */
  evaluate(expression: string, timeLimitMs: number): Promise<number | string> {
    return this.serial(() => this.evaluateNow(expression, timeLimitMs));
  }

  protected start(): Running {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        mathjs: require.resolve('mathjs'),
        disabled: DISABLED_FUNCTIONS,
        notReplaceable: NOT_REPLACEABLE,
        maxResultLength: MAX_RESULT_LENGTH,
      },
      resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      stdout: true, // mathjs never prints; keep anything that does off the service's stdout
      stderr: true,
    });
    worker.unref(); // an idle calculator must not keep the process alive
    const running: Running = { worker, ready: Promise.resolve() };
    running.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the calculator did not start in time')), this.startupTimeoutMs);
      const onMessage = (msg: WorkerReply): void => {
        if ('ready' in msg) {
          clearTimeout(timer);
          worker.off('message', onMessage);
          resolve();
        }
      };
      worker.on('message', onMessage);
      worker.once('exit', () => {
        clearTimeout(timer);
        reject(running.death ?? new Error('the calculator stopped while starting'));
      });
    });
    worker.on('error', (err) => {
      running.death = err;
    });
    worker.once('exit', () => {
      if (this.running === running) this.running = undefined;
    });
    // Startup failures surface through evaluateNow; avoid an unhandled rejection meanwhile.
    running.ready.catch(() => undefined);
    this.running = running;
    return running;
  }

  private async evaluateNow(expression: string, timeLimitMs: number): Promise<number | string> {
    const running = this.running ?? this.start();
    try {
      await running.ready;
    } catch (err) {
      await this.kill(running);
      throw toolError(`could not start: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    const id = this.nextId++;
    const { worker } = running;
    return new Promise<number | string>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
      };
      const onMessage = (msg: WorkerReply): void => {
        if ('ready' in msg || msg.id !== id) return;
        cleanup();
        if (msg.ok) resolve(msg.result);
        else reject(toolError(msg.message));
      };
      const onExit = (): void => {
        cleanup();
        const death = running.death;
        const oom = (death as { code?: unknown } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        reject(toolError(oom ? 'the expression needed too much memory and was stopped' : `the evaluator stopped (${death?.message ?? 'exited'})`, death));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(toolError(`the expression took longer than ${timeLimitMs} ms and was stopped`));
        this.kill(running).catch(() => undefined);
      }, timeLimitMs);
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.postMessage({ id, expression });
    });
  }

  private async kill(running: Running): Promise<void> {
    if (this.running === running) this.running = undefined;
    await running.worker.terminate();
  }
}
