import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { KeelError } from '@keel/contracts';
import { detectCgroups } from './cgroups';
import type { CallCgroup, CgroupBackend } from './cgroups';
import { OutputCollector } from './output';
import { DEFAULT_SANDBOX_CONFIG, silentLog } from './sandbox.config';
import type { SandboxConfig, SandboxLog } from './sandbox.config';

/**
 * Runs python, node or sh code in a bubblewrap sandbox, one per call:
 *
 * - namespaces: user (the code runs as uid 1000 with no capabilities, mapped to
 *   an unprivileged host uid), mount, pid (its own /proc: pid 1 is the
 *   sandbox's init), network (only a private loopback), ipc, uts, cgroup;
 *   nested user namespaces are refused when bwrap supports it;
 * - filesystem: /usr, the /bin /lib* links and a handful of non-secret /etc
 *   files read-only, a generated /etc/passwd, group and hosts, and three
 *   size-capped tmpfs (the work dir, /tmp, /dev/shm); everything else (the
 *   host's /home, /root, /etc, the repo, sockets) is simply not there, and the
 *   root and /dev are remounted read-only;
 * - limits: wall time (SIGKILL of the process group), RLIMIT_CPU, and memory +
 *   process count through a per-run cgroup, or rlimits when cgroups are not
 *   writable; output capped (the run is killed at the cap);
 * - the code arrives through a file descriptor bwrap copies into the work dir,
 *   never through a command line; bwrap's own environment is only PATH.
 *
 * The sandbox never degrades to running code without bubblewrap: if it cannot
 * start, the call fails with `sandbox_unavailable`.
 */

export type ProcessLanguage = 'python' | 'node' | 'sh';
export type KillReason = 'timeout' | 'memory' | 'output' | 'pids';

export interface RunRequest {
  language: ProcessLanguage;
  code: string;
  stdin?: string;
  /** Wall time of this run. */
  timeoutMs: number;
  /** Kills the run when aborted (the caller's deadline). */
  signal?: AbortSignal;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Output hit the cap; what is here is its beginning. */
  truncated: boolean;
  durationMs: number;
  /** Set when the run was stopped: wall/CPU time, memory, output cap or process limit. */
  killed?: KillReason;
}

export interface SandboxStatus {
  ok: boolean;
  /** Why run_code cannot run, when !ok. */
  reason?: string;
  bwrap?: string;
  version?: string;
  /** 'v1' / 'v2': per-run cgroup; 'rlimits': the fallback. */
  limits?: 'cgroup v1' | 'cgroup v2' | 'rlimits';
  cgroupNote?: string;
  /** Host uid bubblewrap runs as. */
  uid?: number;
  languages?: ProcessLanguage[];
  /** Own /proc mounted (false where the container masks /proc, e.g. Docker without systempaths=unconfined). */
  proc?: boolean;
  /** Nested user namespaces refused inside the sandbox (false under gVisor, which lacks the knob). */
  disableUserns?: boolean;
}

export const WORK_DIR = '/sandbox';
export const SANDBOX_UID = 1000;
const HOST_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';
const BWRAP_CANDIDATES = ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap'];
const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv'];
const BASH_CANDIDATES = ['/bin/bash', '/usr/bin/bash'];

/** Exit codes of the launcher itself (before bubblewrap runs). */
const LAUNCHER_RLIMIT_FAILED = 121;
const LAUNCHER_CGROUP_FAILED = 122;

/**
 * Runs before bwrap, as the executor's user: closes inherited descriptors
 * above 7 (bash only; dash cannot name them), sets rlimits, moves itself into
 * the run's cgroups, then execs (setpriv and) bwrap, so every process of the
 * run starts limited. Arguments only: cpu seconds, nproc or "-", address space
 * in KiB or "-", the cgroup.procs files, "--", the command. No user input is
 * ever part of this script or of a shell word.
 */
export function launcherScript(closeFds: boolean): string {
  return [
    'cpu=$1; nproc=$2; vmem=$3; shift 3',
    // Descriptors the executor inherited without close-on-exec would otherwise reach the sandbox.
    ...(closeFds ? ['for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 7 ] 2>/dev/null; then eval "exec $n>&-"; fi; done'] : []),
    'ulimit -c 0; ulimit -n 256',
    `ulimit -S -t "$cpu" && ulimit -H -t "$((cpu + 1))" || exit ${LAUNCHER_RLIMIT_FAILED}`,
    `if [ "$nproc" != - ]; then ulimit ${closeFds ? '-u' : '-p'} "$nproc" || exit ${LAUNCHER_RLIMIT_FAILED}; fi`,
    `if [ "$vmem" != - ]; then ulimit -v "$vmem" || exit ${LAUNCHER_RLIMIT_FAILED}; fi`,
    `while [ "$#" -gt 0 ] && [ "$1" != -- ]; do echo "$$" > "$1" || exit ${LAUNCHER_CGROUP_FAILED}; shift; done`,
    'shift',
    'exec "$@"',
  ].join('\n');
}

interface Interpreter {
  /** Looked up on the sandbox's PATH. */
  binary: string;
  file: string;
  argv(heapMb: number): string[];
}

export const INTERPRETERS: Record<ProcessLanguage, Interpreter> = {
  // -u: unbuffered, so output before a kill is kept; -B: no .pyc files.
  python: { binary: 'python3', file: 'main.py', argv: () => ['python3', '-u', '-B', 'main.py'] },
  // A V8 heap below the memory limit: a heap overflow is V8's own clear error, not an OOM kill.
  node: { binary: 'node', file: 'main.js', argv: (heapMb) => ['node', `--max-old-space-size=${heapMb}`, 'main.js'] },
  sh: { binary: 'sh', file: 'main.sh', argv: () => ['sh', 'main.sh'] },
};

/** Non-secret system files the interpreters read (dynamic linker cache, alternatives, time zone, python config). */
function etcBinds(): string[] {
  const paths = ['/etc/alternatives', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/localtime'];
  try {
    for (const name of readdirSync('/etc')) if (/^python3(\.\d+)?$/.test(name)) paths.push(`/etc/${name}`);
  } catch {
    // no /etc: nothing to add
  }
  return paths.filter((p) => existsSync(p));
}

/** What of the host the sandbox sees: /usr, the merged-/usr links (or dirs), a few /etc files; all read-only. */
export function hostLayout(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const p of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let isLink: boolean;
    try {
      const st = lstatSync(p);
      if (!st.isSymbolicLink() && !st.isDirectory()) continue;
      isLink = st.isSymbolicLink();
    } catch {
      continue;
    }
    if (isLink) args.push('--symlink', readlinkSync(p), p);
    else args.push('--ro-bind', p, p);
  }
  for (const p of etcBinds()) args.push('--ro-bind', p, p);
  return args;
}

export interface BwrapArgsOptions {
  layout: readonly string[];
  tmpfsBytes: number;
  disableUserns: boolean;
  proc: boolean;
  language: ProcessLanguage;
  heapMb: number;
}

/**
 * bubblewrap's arguments. Descriptors: 3 status (bwrap writes JSON), 4 the
 * code, 5 /etc/passwd, 6 /etc/group, 7 /etc/hosts (bwrap reads them).
 */
export function bwrapArgs(o: BwrapArgsOptions): string[] {
  const interpreter = INTERPRETERS[o.language];
  const size = String(o.tmpfsBytes);
  return [
    '--unshare-all', '--unshare-user', '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_UID),
    ...(o.disableUserns ? ['--disable-userns'] : []),
    '--cap-drop', 'ALL', '--die-with-parent', '--new-session', '--hostname', 'sandbox',
    '--clearenv',
    '--setenv', 'PATH', SANDBOX_PATH, '--setenv', 'HOME', WORK_DIR, '--setenv', 'LANG', 'C.UTF-8',
    '--setenv', 'TMPDIR', '/tmp', '--setenv', 'USER', 'sandbox',
    ...o.layout,
    '--ro-bind-data', '5', '/etc/passwd', '--ro-bind-data', '6', '/etc/group', '--ro-bind-data', '7', '/etc/hosts',
    ...(o.proc ? ['--proc', '/proc'] : []),
    '--dev', '/dev',
    '--size', size, '--tmpfs', '/dev/shm',
    '--size', size, '--tmpfs', WORK_DIR,
    '--size', size, '--tmpfs', '/tmp',
    '--file', '4', `${WORK_DIR}/${interpreter.file}`,
    '--remount-ro', '/dev', '--remount-ro', '/',
    '--chdir', WORK_DIR,
    '--json-status-fd', '3',
    '--', ...interpreter.argv(o.heapMb),
  ];
}

const ETC_PASSWD = `root:x:0:0:root:/:/usr/sbin/nologin\nsandbox:x:${SANDBOX_UID}:${SANDBOX_UID}:sandbox:${WORK_DIR}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`;
const ETC_GROUP = `root:x:0:\nsandbox:x:${SANDBOX_UID}:\nnogroup:x:65534:\n`;
const ETC_HOSTS = '127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost ip6-loopback\n';

function firstExecutable(paths: readonly string[]): string | undefined {
  for (const p of paths) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

function availableLanguages(): ProcessLanguage[] {
  const dirs = SANDBOX_PATH.split(':');
  return (Object.keys(INTERPRETERS) as ProcessLanguage[]).filter((lang) => firstExecutable(dirs.map((d) => join(d, INTERPRETERS[lang].binary))) !== undefined);
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: HOST_PATH }, timeout: 10_000 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
}

/** Counting semaphore whose waiters give up when their signal aborts. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = Math.max(1, size);
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.free > 0) {
      this.free--;
      return () => this.release();
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(() => this.release());
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new KeelError('timeout', 'run_code: the deadline passed while waiting for a free sandbox slot'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

interface Variant {
  proc: boolean;
  disableUserns: boolean;
}

interface Prepared {
  bwrap: string;
  /** bash when present (it can close inherited descriptors), else /bin/sh. */
  shell: string;
  /** setpriv, when the executor runs as root and must drop to `config.uid` first. */
  setpriv?: string;
  uid: number;
  layout: string[];
  variant: Variant;
  cgroups?: CgroupBackend;
}

interface RawRun extends RunResult {
  /** The code ran (bwrap reported the child's exit code), or we killed it. */
  started: boolean;
  launcherExit?: number;
}

export function sandboxUnavailable(reason: string): KeelError {
  return new KeelError('unavailable', `run_code: sandbox_unavailable: ${reason}. run_code never runs code outside its sandbox.`, {
    details: { reason: 'sandbox_unavailable' },
  });
}

export class ProcessSandbox {
  private readonly config: SandboxConfig;
  private readonly slots: Slots;
  private probing?: Promise<SandboxStatus>;
  private prepared?: Prepared;
  private lastStatus?: SandboxStatus;
  private failedAt = 0;
  private readonly warned = new Set<string>();

  constructor(config: Partial<SandboxConfig> = {}, private readonly log: SandboxLog = silentLog) {
    this.config = { ...DEFAULT_SANDBOX_CONFIG, ...config };
    this.slots = new Slots(this.config.concurrency);
  }

  /** The last probe's outcome, if any. */
  get status(): SandboxStatus | undefined {
    return this.lastStatus;
  }

  /**
   * Checks bubblewrap, cgroups and the interpreters once and logs the outcome.
   * A failed probe is retried after 30 s (a missing binary stays missing).
   */
  probe(): Promise<SandboxStatus> {
    if (this.probing && (this.lastStatus?.ok !== false || Date.now() - this.failedAt < 30_000)) return this.probing;
    this.probing = this.doProbe().then((status) => {
      this.lastStatus = status;
      if (!status.ok) {
        this.failedAt = Date.now();
        this.log.error({ reason: status.reason, bwrap: status.bwrap }, `run_code sandbox unavailable: ${status.reason}; run_code calls fail with sandbox_unavailable (code is never run unsandboxed)`);
      } else {
        this.log.info({ ...status }, `run_code sandbox ready: ${status.version ?? 'bwrap'}, limits by ${status.limits}, uid ${status.uid}, languages ${status.languages?.join(', ')}`);
        if (status.limits === 'rlimits') {
          this.log.warn({ cgroups: status.cgroupNote }, 'run_code: cgroups are not writable, falling back to rlimits: memory is capped per process (RLIMIT_AS), processes per uid (RLIMIT_NPROC); see apps/tool-executor/README.md');
        }
      }
      return status;
    });
    return this.probing;
  }

  private async doProbe(): Promise<SandboxStatus> {
    const bwrap = this.config.bwrapPath ? firstExecutable([this.config.bwrapPath]) : firstExecutable(BWRAP_CANDIDATES);
    if (!bwrap) {
      return { ok: false, reason: `bubblewrap (bwrap) was not found${this.config.bwrapPath ? ` at ${this.config.bwrapPath}` : ` (looked in ${BWRAP_CANDIDATES.join(', ')})`}; install the bubblewrap package` };
    }
    const version = (await run(bwrap, ['--version'])).trim();
    const help = await run(bwrap, ['--help']);
    if (!help.includes('--size')) {
      return { ok: false, bwrap, version, reason: `${version || bwrap} is too old: bubblewrap 0.8 or later is needed (size-capped tmpfs)` };
    }
    const root = process.getuid?.() === 0;
    let setpriv: string | undefined;
    if (root) {
      setpriv = firstExecutable(SETPRIV_CANDIDATES);
      if (!setpriv) return { ok: false, bwrap, version, reason: 'the executor runs as root and setpriv (util-linux) was not found to drop to an unprivileged uid' };
    }
    const uid = root ? this.config.uid : (process.getuid?.() ?? -1);
    let cgroups: CgroupBackend | undefined;
    let cgroupNote: string | undefined;
    if (this.config.cgroups === 'off') {
      cgroupNote = 'disabled (KEEL_SANDBOX_CGROUPS=off)';
    } else {
      const found = await detectCgroups();
      if ('unavailable' in found) cgroupNote = found.unavailable;
      else cgroups = found;
    }
    const layout = hostLayout();
    const shell = firstExecutable(BASH_CANDIDATES) ?? '/bin/sh';
    const variants: Variant[] = [
      { proc: true, disableUserns: help.includes('--disable-userns') },
      { proc: true, disableUserns: false },
      { proc: false, disableUserns: help.includes('--disable-userns') },
      { proc: false, disableUserns: false },
    ];
    let lastError = '';
    for (const variant of variants) {
      for (const useCgroups of cgroups ? [true, false] : [false]) {
        const candidate: Prepared = { bwrap, shell, setpriv, uid, layout, variant, cgroups: useCgroups ? cgroups : undefined };
        const outcome = await this.spawnRun(candidate, { language: 'sh', code: 'exit 0', timeoutMs: 10_000 }).catch((err: unknown) => ({ error: String((err as Error).message) }));
        if ('error' in outcome) {
          lastError = outcome.error;
          continue;
        }
        if (outcome.started && outcome.exitCode === 0 && !outcome.killed) {
          this.prepared = candidate;
          if (cgroups && !useCgroups) cgroupNote = `${cgroups.where}: a run could not join its cgroup (${lastError})`;
          return {
            ok: true, bwrap, version, uid, languages: availableLanguages(),
            limits: candidate.cgroups ? (candidate.cgroups.version === 1 ? 'cgroup v1' : 'cgroup v2') : 'rlimits',
            cgroupNote: candidate.cgroups ? candidate.cgroups.where : cgroupNote,
            proc: variant.proc, disableUserns: variant.disableUserns,
          };
        }
        lastError = outcome.stderr.trim().split('\n').slice(-2).join(' ') || `exit ${outcome.launcherExit ?? outcome.exitCode}`;
      }
    }
    return { ok: false, bwrap, version, reason: `bubblewrap could not start a sandbox here (${lastError}); it needs unprivileged user namespaces and, inside a container, a seccomp/AppArmor profile that allows them` };
  }

  /** Runs one request; throws `sandbox_unavailable` when there is no working sandbox. */
  async run(req: RunRequest): Promise<RunResult> {
    const status = await this.probe();
    if (!status.ok || !this.prepared) throw sandboxUnavailable(status.reason ?? 'the sandbox probe failed');
    if (!status.languages?.includes(req.language)) {
      throw new KeelError('tool_error', `run_code: ${req.language} is not available in this tool-executor (${INTERPRETERS[req.language].binary} is not installed)`);
    }
    const release = await this.slots.acquire(req.signal);
    try {
      const raw = await this.spawnRun(this.prepared, req);
      if (!raw.started) {
        const detail = raw.stderr.trim().split('\n').slice(-3).join(' ') || `launcher exit ${raw.launcherExit ?? raw.exitCode}`;
        if (/execvp/.test(detail)) throw new KeelError('tool_error', `run_code: could not start ${INTERPRETERS[req.language].binary} in the sandbox (${detail})`);
        throw sandboxUnavailable(`the sandbox failed to start (${detail})`);
      }
      const { started: _s, launcherExit: _l, ...result } = raw;
      return result;
    } finally {
      release();
    }
  }

  private async newCgroup(prepared: Prepared): Promise<CallCgroup | undefined> {
    if (!prepared.cgroups) return undefined;
    try {
      return await prepared.cgroups.create({ memoryBytes: this.config.memoryMb * 1024 * 1024, pids: this.config.pids });
    } catch (err) {
      const message = (err as Error).message;
      if (!this.warned.has(message)) {
        this.warned.add(message);
        this.log.warn({ err: message }, 'run_code: could not create a cgroup for a run; this run is limited by rlimits only');
      }
      return undefined;
    }
  }

  private rlimits(language: ProcessLanguage, cgroup: CallCgroup | undefined, timeoutMs: number): [string, string, string] {
    const cpu = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    if (cgroup) return [cpu, '-', '-'];
    // Fallback. RLIMIT_NPROC counts every process and thread of the uid the sandbox runs as (shared by
    // concurrent runs, and in a container with the executor itself), hence the headroom. RLIMIT_AS is
    // per process; V8 reserves far more address space than it uses, so node gets a larger one and
    // its heap is held by --max-old-space-size.
    const nproc = String(this.config.pids + 64);
    const asMb = language === 'node' ? this.config.memoryMb + 2048 : this.config.memoryMb;
    return [cpu, nproc, String(asMb * 1024)];
  }

  private async spawnRun(prepared: Prepared, req: RunRequest): Promise<RawRun> {
    const started = performance.now();
    const cgroup = await this.newCgroup(prepared);
    const heapMb = Math.max(16, Math.floor(this.config.memoryMb * 0.75));
    const bargs = bwrapArgs({
      layout: prepared.layout, tmpfsBytes: this.config.tmpfsMb * 1024 * 1024, heapMb,
      disableUserns: prepared.variant.disableUserns, proc: prepared.variant.proc, language: req.language,
    });
    const drop = prepared.setpriv ? [prepared.setpriv, `--reuid=${prepared.uid}`, `--regid=${prepared.uid}`, '--clear-groups', '--'] : [];
    const bash = prepared.shell !== '/bin/sh';
    // --norc: bash sources ~/.bashrc when its stdin is a socket (it takes that for rshd), and ours are socketpairs.
    const argv = [...(bash ? ['--norc', '--noprofile'] : []), '-c', launcherScript(bash), 'keel-sandbox', ...this.rlimits(req.language, cgroup, req.timeoutMs), ...(cgroup?.procsFiles ?? []), '--', ...drop, prepared.bwrap, ...bargs];

    let child: ChildProcess;
    try {
      child = spawn(prepared.shell, argv, {
        cwd: '/',
        // Only PATH: the sandbox's pid 1 is bwrap, whose environment the code could read in /proc/1/environ.
        env: { PATH: HOST_PATH },
        stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
        detached: true, // own process group, killed as a whole
      });
    } catch (err) {
      await cgroup?.remove().catch(() => undefined);
      throw err;
    }

    const output = new OutputCollector(this.config.outputBytes, () => kill('output'));
    let status = '';
    let killed: KillReason | undefined;
    const kill = (reason: KillReason): void => {
      if (killed) return;
      killed = reason;
      if (child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      cgroup?.killAll().catch(() => undefined);
    };

    const stdio = child.stdio as unknown as Array<Readable & Writable>;
    for (const stream of stdio) stream.on('error', () => undefined); // EPIPE when the code ignores stdin
    stdio[1].on('data', (c: Buffer) => output.push('stdout', c));
    stdio[2].on('data', (c: Buffer) => output.push('stderr', c));
    stdio[3].on('data', (c: Buffer) => {
      if (status.length < 4096) status += c.toString('utf8');
    });
    stdio[4].end(req.code);
    stdio[5].end(ETC_PASSWD);
    stdio[6].end(ETC_GROUP);
    stdio[7].end(ETC_HOSTS);
    stdio[0].end(req.stdin ?? '');

    const timer = setTimeout(() => kill('timeout'), req.timeoutMs);
    const onAbort = (): void => kill('timeout');
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.signal?.aborted) onAbort();
    // A fork bomb does not die by itself when forks fail: stop the run when the pids limit was hit.
    let polling = false;
    const poll = cgroup
      ? setInterval(() => {
        if (polling || killed) return;
        polling = true;
        cgroup.stats().then((s) => {
          if (s.pidsRefused > 0) kill('pids');
        }).catch(() => undefined).finally(() => {
          polling = false;
        });
      }, 100)
      : undefined;

    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    clearTimeout(timer);
    if (poll) clearInterval(poll);
    req.signal?.removeEventListener('abort', onAbort);
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL'); // anything left in the group
      } catch {
        // gone, as expected
      }
    }
    if (exit.error) {
      await cgroup?.remove().catch(() => undefined);
      throw exit.error;
    }

    let stats = { oomKills: 0, pidsRefused: 0 };
    if (cgroup) {
      stats = await cgroup.stats().catch(() => stats);
      await cgroup.remove().catch((err: unknown) => this.log.warn({ err: (err as Error).message, cgroup: cgroup.id }, 'run_code: could not remove a sandbox cgroup'));
    }

    const codeMatch = /"exit-code"\s*:\s*(\d+)/.exec(status);
    const childExit = codeMatch ? Number(codeMatch[1]) : undefined;
    const processExit = exit.code ?? 128 + signalNumber(exit.signal);
    const exitCode = childExit ?? (killed ? 137 : processExit);
    if (!killed && stats.oomKills > 0) killed = 'memory';
    if (!killed && stats.pidsRefused > 0) killed = 'pids';
    // SIGXCPU: RLIMIT_CPU reached.
    if (!killed && childExit === 128 + osConstants.signals.SIGXCPU) killed = 'timeout';
    const result: RawRun = {
      started: childExit !== undefined || killed !== undefined,
      exitCode,
      stdout: output.text('stdout'),
      stderr: output.text('stderr'),
      truncated: output.truncated,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    };
    if (killed) result.killed = killed;
    if (childExit === undefined && !killed) result.launcherExit = processExit;
    return result;
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (osConstants.signals[signal] ?? 0) : 0;
}
