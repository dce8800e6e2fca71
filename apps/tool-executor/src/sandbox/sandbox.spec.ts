import { describe, expect, it, jest } from '@jest/globals';
import { parseProcCgroup } from './cgroups';
import { OutputCollector } from './output';
import { WORK_DIR, bwrapArgs, launcherScript } from './process.sandbox';
import type { BwrapArgsOptions } from './process.sandbox';
import { DEFAULT_SANDBOX_CONFIG, sandboxConfigFromEnv } from './sandbox.config';

const base: BwrapArgsOptions = {
  layout: ['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin'],
  tmpfsBytes: 64 * 1024 * 1024, disableUserns: true, proc: true, language: 'python', heapMb: 192,
};

/** Value following `flag` at each of its occurrences. */
function after(args: string[], flag: string, width = 1): string[][] {
  const out: string[][] = [];
  args.forEach((a, i) => {
    if (a === flag) out.push(args.slice(i + 1, i + 1 + width));
  });
  return out;
}

describe('bwrapArgs', () => {
  it('unshares every namespace, drops capabilities and dies with its parent', () => {
    const args = bwrapArgs(base);
    for (const flag of ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session', '--clearenv']) expect(args).toContain(flag);
    expect(after(args, '--cap-drop')).toEqual([['ALL']]);
    expect(args).not.toContain('--share-net');
    expect(after(args, '--uid')).toEqual([['1000']]);
  });

  it('gives the code a minimal environment and an empty work dir as cwd', () => {
    const args = bwrapArgs(base);
    expect(after(args, '--setenv', 2)).toEqual([['PATH', '/usr/local/bin:/usr/bin:/bin'], ['HOME', WORK_DIR], ['LANG', 'C.UTF-8'], ['TMPDIR', '/tmp'], ['USER', 'sandbox']]);
    expect(after(args, '--chdir')).toEqual([[WORK_DIR]]);
  });

  it('mounts size-capped tmpfs for the work dir, /tmp and /dev/shm, then makes / and /dev read-only', () => {
    const args = bwrapArgs(base);
    expect(after(args, '--tmpfs')).toEqual([['/dev/shm'], [WORK_DIR], ['/tmp']]);
    expect(after(args, '--size')).toEqual([[String(64 * 1024 * 1024)], [String(64 * 1024 * 1024)], [String(64 * 1024 * 1024)]]);
    expect(after(args, '--remount-ro')).toEqual([['/dev'], ['/']]);
    expect(args.indexOf('--remount-ro')).toBeGreaterThan(args.lastIndexOf('--tmpfs'));
    expect(after(args, '--proc')).toEqual([['/proc']]);
    expect(bwrapArgs({ ...base, proc: false })).not.toContain('--proc');
    expect(bwrapArgs({ ...base, disableUserns: false })).not.toContain('--disable-userns');
  });

  it('binds only what the layout lists, read-only; never the whole root', () => {
    const args = bwrapArgs(base);
    expect(after(args, '--bind')).toEqual([]);
    expect(after(args, '--dev-bind')).toEqual([]);
    expect(after(args, '--ro-bind', 2)).toEqual([['/usr', '/usr']]);
  });

  it('takes the code through a descriptor into the work dir (bwrapArgs never sees the code)', () => {
    const args = bwrapArgs(base);
    expect(after(args, '--file', 2)).toEqual([['4', `${WORK_DIR}/main.py`]]);
    expect(args.slice(args.indexOf('--') + 1)).toEqual(['python3', '-u', '-B', 'main.py']);
    expect(bwrapArgs({ ...base, language: 'node' }).slice(-3)).toEqual(['node', '--max-old-space-size=192', 'main.js']);
    expect(bwrapArgs({ ...base, language: 'sh' }).slice(-2)).toEqual(['sh', 'main.sh']);
  });

  it('reports status on descriptor 3 and generates /etc/passwd, group and hosts from descriptors', () => {
    const args = bwrapArgs(base);
    expect(after(args, '--json-status-fd')).toEqual([['3']]);
    expect(after(args, '--ro-bind-data', 2)).toEqual([['5', '/etc/passwd'], ['6', '/etc/group'], ['7', '/etc/hosts']]);
  });
});

describe('launcherScript', () => {
  it('uses only its positional arguments', () => {
    for (const script of [launcherScript(true), launcherScript(false)]) {
      expect(script).toMatch(/exec "\$@"$/);
      expect(script).toContain('ulimit -c 0');
      expect(script).not.toMatch(/\$\{?[A-Za-z_]*(code|CODE)/);
    }
    expect(launcherScript(true)).toContain('ulimit -u');
    expect(launcherScript(false)).toContain('ulimit -p'); // dash spells RLIMIT_NPROC -p
    expect(launcherScript(false)).not.toContain('/proc/$$/fd');
  });
});

describe('OutputCollector', () => {
  it('shares one budget between stdout and stderr and fires overflow once', () => {
    const overflow = jest.fn();
    const out = new OutputCollector(10, overflow);
    out.push('stdout', Buffer.from('abcd'));
    out.push('stderr', Buffer.from('efgh'));
    expect(out.truncated).toBe(false);
    out.push('stdout', Buffer.from('ijklmn'));
    out.push('stderr', Buffer.from('more'));
    expect(overflow).toHaveBeenCalledTimes(1);
    expect(out.truncated).toBe(true);
    expect(out.text('stdout')).toBe('abcdij');
    expect(out.text('stderr')).toBe('efgh');
    expect(out.bytes).toBe(10);
  });

  it('turns a character cut at the cap into U+FFFD instead of failing', () => {
    const out = new OutputCollector(4);
    out.push('stdout', Buffer.from('abcé')); // é is 2 bytes: the cap cuts it
    expect(out.text('stdout')).toBe('abc\uFFFD');
  });
});

describe('parseProcCgroup', () => {
  it('maps v1 controllers and the v2 line', () => {
    const map = parseProcCgroup('12:pids:/\n4:memory:/process_api/abc\n3:cpu,cpuacct:/x\n0::/user.slice\n');
    expect(map.get('pids')).toBe('/');
    expect(map.get('memory')).toBe('/process_api/abc');
    expect(map.get('cpuacct')).toBe('/x');
    expect(map.get('')).toBe('/user.slice');
  });
});

describe('sandboxConfigFromEnv', () => {
  it('fills defaults and takes the KEEL_SANDBOX_* values', () => {
    expect(sandboxConfigFromEnv({})).toEqual(DEFAULT_SANDBOX_CONFIG);
    expect(sandboxConfigFromEnv({ KEEL_SANDBOX_MEMORY_MB: 512, KEEL_SANDBOX_PIDS: 32, KEEL_SANDBOX_CGROUPS: 'off', KEEL_SANDBOX_OUTPUT_BYTES: 4096 }))
      .toMatchObject({ memoryMb: 512, pids: 32, cgroups: 'off', outputBytes: 4096, tmpfsMb: 64 });
  });
});
