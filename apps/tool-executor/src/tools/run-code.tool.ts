import { z } from 'zod';
import { KeelError } from '@keel/contracts';
import { DEFAULT_SANDBOX_CONFIG, ProcessSandbox, QuickJsSandbox, silentLog } from '../sandbox';
import type { JsRunResult, SandboxConfig, SandboxLog } from '../sandbox';
import { parametersOf } from './tool.definition';
import type { ToolContext, ToolDefinition } from './tool.definition';

export const RUN_CODE_LANGUAGES = ['python', 'node', 'sh', 'js'] as const;
export type RunCodeLanguage = (typeof RUN_CODE_LANGUAGES)[number];
export const MAX_CODE_LENGTH = 100_000;
export const MAX_STDIN_LENGTH = 1024 * 1024;
/** Time kept back from the call's timeout so a run killed at its wall time still returns its output. */
export const TIMEOUT_MARGIN_MS = 300;

export const RunCodeArgsSchema = z.strictObject({
  language: z.enum(RUN_CODE_LANGUAGES).describe(
    'python: Python 3 script. node: Node.js script (CommonJS, require of built-in modules). sh: POSIX shell script. ' +
    'js: a JavaScript snippet evaluated in an interpreter without any I/O; the value of its last expression is returned as `result`.',
  ),
  code: z.string()
    .min(1, 'code is empty')
    .max(MAX_CODE_LENGTH, `code is longer than ${MAX_CODE_LENGTH} characters`)
    .refine((code) => !code.includes('\u0000'), 'code must not contain NUL characters')
    .describe('The program. Print what you need to stdout; it runs in a fresh, empty working directory.'),
  stdin: z.string()
    .max(MAX_STDIN_LENGTH, `stdin is longer than ${MAX_STDIN_LENGTH} characters`)
    .optional()
    .describe('Text given to the program on standard input (python, node and sh only).'),
}).superRefine((args, ctx) => {
  if (args.language === 'js' && args.stdin !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['stdin'], message: 'js snippets have no standard input; use python, node or sh' });
  }
});
export type RunCodeArgs = z.infer<typeof RunCodeArgsSchema>;

/** What the model gets: exit code, capped output, and why a run was stopped; `result` for js only. */
export type RunCodeResult = JsRunResult;

export interface RunCodeToolOptions {
  config?: Partial<SandboxConfig>;
  log?: SandboxLog;
  /** Injected in tests; default: built from `config`. */
  sandbox?: ProcessSandbox;
  js?: QuickJsSandbox;
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

/** The result as the model sees it: fixed key order, `killed`/`result` only when set. */
export function shapeResult(r: RunCodeResult): RunCodeResult {
  const out: RunCodeResult = {
    exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, truncated: r.truncated, durationMs: Math.round(r.durationMs * 100) / 100,
  };
  if (r.killed !== undefined) out.killed = r.killed;
  if (r.result !== undefined) out.result = r.result;
  return out;
}

/**
 * `run_code`: runs model-written code in a sandbox (src/sandbox): python,
 * node and sh in a bubblewrap sandbox per call, js in QuickJS (WebAssembly).
 * If bubblewrap is missing or cannot start here, every call fails with
 * `sandbox_unavailable`; code never runs outside the sandbox.
 */
export function runCodeTool(options: RunCodeToolOptions = {}): ToolDefinition<RunCodeArgs> {
  const config: SandboxConfig = { ...DEFAULT_SANDBOX_CONFIG, ...options.config };
  const log = options.log ?? silentLog;
  let sandbox = options.sandbox;
  let js = options.js;
  const processSandbox = (): ProcessSandbox => (sandbox ??= new ProcessSandbox(config, log));
  const jsSandbox = (): QuickJsSandbox => (js ??= new QuickJsSandbox({ memoryMb: config.jsMemoryMb, outputBytes: config.outputBytes }));

  async function execute(args: RunCodeArgs, ctx: ToolContext): Promise<RunCodeResult> {
    if (ctx.signal.aborted) throw new KeelError('timeout', 'run_code: cancelled before it ran because the caller\'s deadline passed');
    const timeoutMs = Math.max(100, Math.min(config.timeoutMs, ctx.timeoutMs - TIMEOUT_MARGIN_MS));
    if (args.language === 'js') {
      return shapeResult(await jsSandbox().run({ code: args.code, timeoutMs, signal: ctx.signal }));
    }
    return shapeResult(await processSandbox().run({ language: args.language, code: args.code, stdin: args.stdin, timeoutMs, signal: ctx.signal }));
  }

  return {
    name: 'run_code',
    description:
      'Runs a short program in an isolated sandbox and returns {exitCode, stdout, stderr, truncated, durationMs, killed?}. ' +
      'Languages: python, node, sh, and js (a JavaScript snippet with no I/O whose last expression value comes back as `result`). ' +
      `No network, no access to the host's files; a fresh empty working directory (${config.tmpfsMb} MiB) and /tmp per call, nothing persists. ` +
      `Limits: ${Math.round(config.timeoutMs / 100) / 10} s, ${config.memoryMb} MiB of memory, ${config.pids} processes, ${mib(config.outputBytes)} of output; ` +
      'a run over a limit is stopped and `killed` says which.',
    argsSchema: RunCodeArgsSchema,
    parameters: parametersOf(RunCodeArgsSchema),
    // No effect outside the sandbox: nothing it does is visible to anyone after the call.
    permission: 'read',
    // Review by default: arbitrary code, even sandboxed (libs/policy decides the tier, not this).
    defaultRisk: 'review',
    // Not `pure`: the same code can print something else each run (time, random numbers, a
    // run killed at its limit), and a pure call is neither recorded nor replayed. With the ledger
    // the result is recorded once, so a redelivered step replays exactly what the model saw. Running
    // it again is harmless (its effects die with the sandbox), so a call left in doubt by a dead
    // executor is simply run again, as `idempotent_by_key` tools are, instead of asking a person.
    // (run_code sends no Idempotency-Key: it has nothing remote to de-duplicate.)
    idempotency: 'idempotent_by_key',
    source: 'builtin',
    execute,
    warmUp(): void {
      // Probe bubblewrap (logs "ready" or why not) and load QuickJS, off the caller's path.
      processSandbox().probe().catch(() => undefined);
      jsSandbox().warmUp().catch(() => undefined);
    },
  };
}
