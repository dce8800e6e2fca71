import { describe, expect, it, jest } from '@jest/globals';
import { KeelError } from '@keel/contracts';
import { sandboxUnavailable } from '../sandbox';
import type { JsRunRequest, JsRunResult, ProcessSandbox, QuickJsSandbox, RunRequest, RunResult } from '../sandbox';
import { MAX_CODE_LENGTH, MAX_STDIN_LENGTH, RunCodeArgsSchema, TIMEOUT_MARGIN_MS, runCodeTool, shapeResult } from './run-code.tool';
import type { ToolContext } from './tool.definition';
import { ToolRegistry } from './tool.registry';

function ctx(timeoutMs = 10_000, signal = new AbortController().signal): ToolContext {
  return { idempotencyKey: 't:1:0', allow: [], timeoutMs, signal };
}

const ok: RunResult = { exitCode: 0, stdout: '4\n', stderr: '', truncated: false, durationMs: 12.3456 };

/** Stands in for the bubblewrap sandbox: records requests, answers with `answer`. */
function fakeSandbox(answer: () => Promise<RunResult> = async () => ok) {
  const run = jest.fn<(req: RunRequest) => Promise<RunResult>>(answer);
  const probe = jest.fn(async () => ({ ok: true }));
  return { sandbox: { run, probe } as unknown as ProcessSandbox, run };
}

function fakeJs() {
  const run = jest.fn<(req: JsRunRequest) => Promise<JsRunResult>>(async () => ({ exitCode: 0, stdout: '', stderr: '', truncated: false, durationMs: 0.5, result: { a: 1 } }));
  return { js: { run, warmUp: async () => undefined } as unknown as QuickJsSandbox, run };
}

function validationMessage(raw: unknown): string {
  const registry = new ToolRegistry([runCodeTool({ sandbox: fakeSandbox().sandbox, js: fakeJs().js })]);
  try {
    registry.parseArgs('run_code', raw);
  } catch (err) {
    if (err instanceof KeelError) {
      expect(err.code).toBe('validation_failed');
      return err.message;
    }
    throw err;
  }
  throw new Error('expected parseArgs to throw');
}

describe('run_code arguments', () => {
  it('accepts the four languages, with stdin for process languages', () => {
    for (const language of ['python', 'node', 'sh', 'js']) {
      expect(RunCodeArgsSchema.parse({ language, code: '1' })).toEqual({ language, code: '1' });
    }
    expect(RunCodeArgsSchema.parse({ language: 'python', code: 'print(input())', stdin: 'hi\n' })).toMatchObject({ stdin: 'hi\n' });
  });

  it.each<[unknown, RegExp]>([
    [{ language: 'ruby', code: 'puts 1' }, /arguments\.language: Invalid option/],
    [{ code: 'print(1)' }, /arguments\.language:/],
    [{ language: 'python' }, /arguments\.code:/],
    [{ language: 'python', code: '' }, /arguments\.code: code is empty/],
    [{ language: 'python', code: 'x'.repeat(MAX_CODE_LENGTH + 1) }, /arguments\.code: code is longer than 100000 characters/],
    [{ language: 'sh', code: 'echo a\u0000b' }, /arguments\.code: code must not contain NUL characters/],
    [{ language: 'js', code: '1', stdin: 'x' }, /arguments\.stdin: js snippets have no standard input/],
    [{ language: 'sh', code: 'cat', stdin: 'x'.repeat(MAX_STDIN_LENGTH + 1) }, /arguments\.stdin: stdin is longer than/],
    [{ language: 'sh', code: 'ls', cwd: '/' }, /arguments\.cwd: unknown field \(allowed: language, code, stdin\)/],
    [{ language: 'sh', code: 'ls', env: { A: '1' } }, /arguments\.env: unknown field/],
  ])('refuses %j', (raw, message) => {
    expect(validationMessage(raw)).toMatch(message);
  });

  it('describes itself to the model with a strict JSON Schema and its limits', () => {
    const tool = runCodeTool({ config: { timeoutMs: 5_000, memoryMb: 256, pids: 64, outputBytes: 1024 * 1024, tmpfsMb: 64 } });
    expect(tool.parameters).toMatchObject({
      type: 'object', additionalProperties: false, required: ['language', 'code'],
      properties: { language: { enum: ['python', 'node', 'sh', 'js'] }, code: { type: 'string', maxLength: MAX_CODE_LENGTH }, stdin: { type: 'string' } },
    });
    expect(tool.parameters).not.toHaveProperty('$schema');
    expect(tool.description).toMatch(/No network/);
    expect(tool.description).toMatch(/5 s, 256 MiB of memory, 64 processes, 1 MiB of output/);
    expect(tool).toMatchObject({ name: 'run_code', permission: 'read', defaultRisk: 'review', idempotency: 'idempotent_by_key' });
  });
});

describe('run_code execution', () => {
  it('hands python, node and sh to the process sandbox with the call\'s stdin', async () => {
    const { sandbox, run } = fakeSandbox();
    const tool = runCodeTool({ sandbox, js: fakeJs().js });
    const signal = new AbortController().signal;
    await tool.execute({ language: 'python', code: 'print(2+2)', stdin: 'x' }, ctx(10_000, signal));
    expect(run).toHaveBeenCalledWith({ language: 'python', code: 'print(2+2)', stdin: 'x', timeoutMs: 5_000, signal });
  });

  it('hands js to QuickJS, never to a process', async () => {
    const { sandbox, run } = fakeSandbox();
    const { js, run: jsRun } = fakeJs();
    const tool = runCodeTool({ sandbox, js });
    await expect(tool.execute({ language: 'js', code: '({a: 1})' }, ctx())).resolves.toEqual({
      exitCode: 0, stdout: '', stderr: '', truncated: false, durationMs: 0.5, result: { a: 1 },
    });
    expect(jsRun).toHaveBeenCalledWith(expect.objectContaining({ code: '({a: 1})', timeoutMs: 5_000 }));
    expect(run).not.toHaveBeenCalled();
  });

  it('keeps the wall time under the call\'s timeout, with a margin to return the output', async () => {
    const { sandbox, run } = fakeSandbox();
    const tool = runCodeTool({ sandbox, config: { timeoutMs: 5_000 } });
    await tool.execute({ language: 'sh', code: 'true' }, ctx(2_000));
    expect(run.mock.calls[0][0].timeoutMs).toBe(2_000 - TIMEOUT_MARGIN_MS);
    await tool.execute({ language: 'sh', code: 'true' }, ctx(60_000));
    expect(run.mock.calls[1][0].timeoutMs).toBe(5_000);
    await tool.execute({ language: 'sh', code: 'true' }, ctx(150));
    expect(run.mock.calls[2][0].timeoutMs).toBe(100);
  });

  it('refuses to start when the caller\'s deadline already passed', async () => {
    const { sandbox, run } = fakeSandbox();
    const controller = new AbortController();
    controller.abort();
    await expect(runCodeTool({ sandbox }).execute({ language: 'sh', code: 'true' }, ctx(1_000, controller.signal)))
      .rejects.toMatchObject({ code: 'timeout' });
    expect(run).not.toHaveBeenCalled();
  });

  it('passes sandbox_unavailable through unchanged: nothing runs unsandboxed', async () => {
    const { sandbox } = fakeSandbox(async () => {
      throw sandboxUnavailable('bubblewrap (bwrap) was not found');
    });
    const registry = new ToolRegistry([runCodeTool({ sandbox })]);
    const err = await registry.invoke('run_code', { language: 'python', code: 'print(1)' }, ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeelError);
    expect(err).toMatchObject({ code: 'unavailable', details: { reason: 'sandbox_unavailable' } });
    expect((err as KeelError).message).toMatch(/^run_code: sandbox_unavailable: bubblewrap \(bwrap\) was not found\. run_code never runs code outside its sandbox\.$/);
  });
});

describe('run_code output shaping', () => {
  it('keeps a fixed key order and leaves out unset optional keys', () => {
    expect(Object.keys(shapeResult(ok))).toEqual(['exitCode', 'stdout', 'stderr', 'truncated', 'durationMs']);
    expect(shapeResult(ok).durationMs).toBe(12.35);
    const killed = shapeResult({ ...ok, exitCode: 137, truncated: true, killed: 'output', result: undefined });
    expect(killed).toEqual({ exitCode: 137, stdout: '4\n', stderr: '', truncated: true, durationMs: 12.35, killed: 'output' });
    expect(Object.keys(shapeResult({ ...ok, killed: 'timeout', result: 0 }))).toEqual(['exitCode', 'stdout', 'stderr', 'truncated', 'durationMs', 'killed', 'result']);
  });

  it('returns what the sandbox produced, shaped', async () => {
    const { sandbox } = fakeSandbox(async () => ({ exitCode: 137, stdout: 'x'.repeat(10), stderr: '', truncated: true, durationMs: 40.123, killed: 'output' }));
    await expect(runCodeTool({ sandbox }).execute({ language: 'sh', code: 'yes' }, ctx())).resolves.toEqual({
      exitCode: 137, stdout: 'xxxxxxxxxx', stderr: '', truncated: true, durationMs: 40.12, killed: 'output',
    });
  });
});
