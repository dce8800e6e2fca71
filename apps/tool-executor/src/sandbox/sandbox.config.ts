/**
 * Limits and settings of the run_code sandbox. Every field has a default; the
 * service maps KEEL_SANDBOX_* environment variables onto them (src/service.ts).
 */
export interface SandboxConfig {
  /** Path of the bubblewrap binary; empty: the first of /usr/bin/bwrap, /usr/local/bin/bwrap, /bin/bwrap. */
  bwrapPath: string;
  /** Longest wall time of one run; a call's own timeout lowers it further. */
  timeoutMs: number;
  /** Memory of one run (all its processes, tmpfs pages included) when cgroups are usable. */
  memoryMb: number;
  /** Processes and threads of one run when cgroups are usable. */
  pids: number;
  /** stdout + stderr kept per run; more kills the run (`killed: "output"`). */
  outputBytes: number;
  /** Size of each writable tmpfs in the sandbox (the work dir, /tmp, /dev/shm). */
  tmpfsMb: number;
  /** Runs at once per executor; more wait for a slot (within their own timeout). */
  concurrency: number;
  /** `auto`: a cgroup per run when /sys/fs/cgroup is writable, else rlimits; `off`: always rlimits. */
  cgroups: 'auto' | 'off';
  /** uid/gid the sandbox runs as when the executor itself runs as root (never root inside). */
  uid: number;
  /** Heap of the QuickJS interpreter for `language: "js"`. */
  jsMemoryMb: number;
}

export const DEFAULT_SANDBOX_CONFIG: Readonly<SandboxConfig> = Object.freeze({
  bwrapPath: '',
  timeoutMs: 5_000,
  memoryMb: 256,
  pids: 64,
  outputBytes: 1024 * 1024,
  tmpfsMb: 64,
  concurrency: 4,
  cgroups: 'auto',
  uid: 65534,
  jsMemoryMb: 64,
});

/** The KEEL_SANDBOX_* settings as parsed by the service's env schema. */
export interface SandboxEnv {
  KEEL_SANDBOX_BWRAP?: string;
  KEEL_SANDBOX_TIMEOUT_MS?: number;
  KEEL_SANDBOX_MEMORY_MB?: number;
  KEEL_SANDBOX_PIDS?: number;
  KEEL_SANDBOX_OUTPUT_BYTES?: number;
  KEEL_SANDBOX_TMPFS_MB?: number;
  KEEL_SANDBOX_CONCURRENCY?: number;
  KEEL_SANDBOX_CGROUPS?: 'auto' | 'off';
  KEEL_SANDBOX_UID?: number;
  KEEL_SANDBOX_JS_MEMORY_MB?: number;
}

export function sandboxConfigFromEnv(env: SandboxEnv): SandboxConfig {
  const d = DEFAULT_SANDBOX_CONFIG;
  return {
    bwrapPath: env.KEEL_SANDBOX_BWRAP ?? d.bwrapPath,
    timeoutMs: env.KEEL_SANDBOX_TIMEOUT_MS ?? d.timeoutMs,
    memoryMb: env.KEEL_SANDBOX_MEMORY_MB ?? d.memoryMb,
    pids: env.KEEL_SANDBOX_PIDS ?? d.pids,
    outputBytes: env.KEEL_SANDBOX_OUTPUT_BYTES ?? d.outputBytes,
    tmpfsMb: env.KEEL_SANDBOX_TMPFS_MB ?? d.tmpfsMb,
    concurrency: env.KEEL_SANDBOX_CONCURRENCY ?? d.concurrency,
    cgroups: env.KEEL_SANDBOX_CGROUPS ?? d.cgroups,
    uid: env.KEEL_SANDBOX_UID ?? d.uid,
    jsMemoryMb: env.KEEL_SANDBOX_JS_MEMORY_MB ?? d.jsMemoryMb,
  };
}

/** Where the sandbox logs (the service's pino logger fits). */
export interface SandboxLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLog: SandboxLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
