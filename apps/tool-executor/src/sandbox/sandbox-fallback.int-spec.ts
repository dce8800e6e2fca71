import { describe, expect, it, jest } from '@jest/globals';
import { KeelError } from '@keel/contracts';
import { runCodeTool } from '../tools/run-code.tool';
import type { RunCodeResult } from '../tools/run-code.tool';
import type { ToolContext } from '../tools/tool.definition';
import { ProcessSandbox } from './process.sandbox';
import type { SandboxLog } from './sandbox.config';

/**
 * The degraded configurations: no writable cgroups (rlimits instead, with a
 * warning) and no usable bubblewrap (every call refused, nothing run).
 */

jest.setTimeout(60_000);

function ctx(timeoutMs = 10_000): ToolContext {
  return { idempotencyKey: 'fallback:1:0', allow: [], timeoutMs, signal: new AbortController().signal };
}

function recorder(): SandboxLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (_o, m) => lines.push(`info ${m}`), warn: (_o, m) => lines.push(`warn ${m}`), error: (_o, m) => lines.push(`error ${m}`) };
}

describe('without cgroups (KEEL_SANDBOX_CGROUPS=off, as in an unprivileged pod)', () => {
  const log = recorder();
  // Its own uid: RLIMIT_NPROC counts per uid, and other suites run sandboxes as 65534 at the same time.
  const sandbox = new ProcessSandbox({ cgroups: 'off', uid: 61_234, memoryMb: 128, pids: 32 }, log);
  const tool = runCodeTool({ sandbox });
  const run = async (language: 'python' | 'node' | 'sh', code: string, wallMs = 5_000): Promise<RunCodeResult> =>
    await tool.execute({ language, code }, ctx(wallMs + 300)) as RunCodeResult;

  it('says so at startup and falls back to rlimits', async () => {
    const status = await sandbox.probe();
    expect(status).toMatchObject({ ok: true, limits: 'rlimits' });
    expect(log.lines.some((l) => /^warn run_code: cgroups are not writable, falling back to rlimits/.test(l))).toBe(true);
  });

  it('still runs ordinary code in every process language', async () => {
    expect(await run('python', 'print(sum(range(10)))')).toMatchObject({ exitCode: 0, stdout: '45\n' });
    expect(await run('node', 'console.log([1, 2, 3].map((x) => x * 2).join(","))')).toMatchObject({ exitCode: 0, stdout: '2,4,6\n' });
    expect(await run('sh', 'echo ok')).toMatchObject({ exitCode: 0, stdout: 'ok\n' });
  });

  it('python: a memory bomb hits RLIMIT_AS (MemoryError) instead of the host', async () => {
    const r = await run('python', 'x = []\nwhile True:\n    x.append(bytearray(10 ** 7))');
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/MemoryError/);
  });

  it('sh: a fork bomb is held by RLIMIT_NPROC and ended at the wall time with its whole process group', async () => {
    const r = await run('sh', 'f() { f | f & }; f; sleep 30', 2_000);
    expect(r).toMatchObject({ killed: 'timeout', exitCode: 137 });
    expect(await run('sh', 'echo after')).toMatchObject({ exitCode: 0, stdout: 'after\n' });
  });
});

describe('without a usable bubblewrap', () => {
  it('refuses every call with sandbox_unavailable, logs why, and never runs the code', async () => {
    const log = recorder();
    const sandbox = new ProcessSandbox({ bwrapPath: '/nonexistent/bwrap' }, log);
    const tool = runCodeTool({ sandbox });
    for (const language of ['python', 'node', 'sh'] as const) {
      const err = await tool.execute({ language, code: 'echo ran > /tmp/keel-should-not-exist' }, ctx()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeelError);
      expect(err).toMatchObject({ code: 'unavailable', details: { reason: 'sandbox_unavailable' } });
      expect((err as Error).message).toMatch(/sandbox_unavailable: bubblewrap \(bwrap\) was not found at \/nonexistent\/bwrap/);
    }
    expect(log.lines.filter((l) => l.startsWith('error run_code sandbox unavailable'))).toHaveLength(1);
    // js needs no process: it still works.
    expect(await tool.execute({ language: 'js', code: '1 + 1' }, ctx())).toMatchObject({ exitCode: 0, result: 2 });
  });
});
