import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * One cgroup per sandbox run, for the limits rlimits cannot give: memory of the
 * whole process tree (tmpfs pages included) and a process count that holds for
 * root too. cgroup v1 (separate `memory` and `pids` hierarchies) and v2 (one
 * unified hierarchy) are both handled. Groups live under the executor's own
 * cgroup (`<own>/keel-sandbox/<id>`), so they stay inside its container's
 * accounting. The launcher writes its own pid into `procsFiles` before it
 * execs bubblewrap, so every process of the run starts inside the group.
 */

export interface CgroupLimits {
  memoryBytes: number;
  pids: number;
}

export interface CgroupStats {
  /** Processes the kernel's OOM killer ended in this group. */
  oomKills: number;
  /** Forks refused because the group hit pids.max. */
  pidsRefused: number;
}

export interface CallCgroup {
  readonly id: string;
  /** Each file gets the launcher's pid (one per hierarchy). */
  readonly procsFiles: readonly string[];
  stats(): Promise<CgroupStats>;
  /** SIGKILLs whatever is still in the group. */
  killAll(): Promise<void>;
  /** Kills what is left, then removes the group (retrying while exiting tasks linger). */
  remove(): Promise<void>;
}

export interface CgroupBackend {
  readonly version: 1 | 2;
  /** Where the per-run groups are created, for logs. */
  readonly where: string;
  create(limits: CgroupLimits): Promise<CallCgroup>;
}

const PARENT = 'keel-sandbox';

/** Parses `/proc/self/cgroup`: controller name → path ("" key for the v2 line). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const controller of m[1].split(',')) out.set(controller, m[2]);
  }
  return out;
}

function counter(text: string, key: string): number {
  const m = new RegExp(`^${key}\\s+(\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return fallback;
  }
}

async function pidsIn(dir: string): Promise<number[]> {
  const text = await readOr(join(dir, 'cgroup.procs'), '');
  return text.split('\n').filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

async function killPids(dirs: readonly string[]): Promise<void> {
  // A fork bomb may add tasks while we kill: a few rounds, each over every pid listed.
  for (let round = 0; round < 20; round++) {
    let found = 0;
    for (const dir of dirs) {
      for (const pid of await pidsIn(dir)) {
        found++;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (found === 0) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function removeDirs(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        // EBUSY while killed tasks are still being torn down.
        if (attempt >= 50) throw err;
        await killPids([dir]);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

function newId(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Removes groups left behind by executors that are gone (the id starts with their pid). */
async function sweepStale(parents: readonly string[]): Promise<void> {
  for (const parent of parents) {
    let entries: string[];
    try {
      entries = await readdir(parent);
    } catch {
      continue;
    }
    for (const name of entries) {
      const pid = Number(/^(\d+)-[0-9a-f]+$/.exec(name)?.[1]);
      if (!pid || pid === process.pid) continue;
      try {
        process.kill(pid, 0);
        continue; // that executor still runs
      } catch {
        // gone: remove its group if empty
      }
      await rmdir(join(parent, name)).catch(() => undefined);
    }
  }
}

class V1Backend implements CgroupBackend {
  readonly version = 1 as const;
  constructor(private readonly memoryParent: string, private readonly pidsParent: string) {}

  get where(): string {
    return `${this.memoryParent}, ${this.pidsParent}`;
  }

  async create(limits: CgroupLimits): Promise<CallCgroup> {
    const id = newId();
    const mem = join(this.memoryParent, id);
    const pids = join(this.pidsParent, id);
    const dirs = [mem, pids];
    try {
      await mkdir(mem);
      await mkdir(pids);
      await writeFile(join(mem, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      // With swap accounting, memory + swap is capped too, so a run cannot spill into swap.
      if (existsSync(join(mem, 'memory.memsw.limit_in_bytes'))) await writeFile(join(mem, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
      await writeFile(join(pids, 'pids.max'), String(limits.pids));
    } catch (err) {
      await removeDirs(dirs).catch(() => undefined);
      throw err;
    }
    return {
      id,
      procsFiles: [join(mem, 'cgroup.procs'), join(pids, 'cgroup.procs')],
      async stats() {
        const oom = await readOr(join(mem, 'memory.oom_control'), '');
        const events = await readOr(join(pids, 'pids.events'), '');
        return { oomKills: counter(oom, 'oom_kill'), pidsRefused: counter(events, 'max') };
      },
      killAll: () => killPids(dirs),
      async remove() {
        await killPids(dirs);
        await removeDirs(dirs);
      },
    };
  }
}

class V2Backend implements CgroupBackend {
  readonly version = 2 as const;
  constructor(private readonly parent: string) {}

  get where(): string {
    return this.parent;
  }

  async create(limits: CgroupLimits): Promise<CallCgroup> {
    const id = newId();
    const dir = join(this.parent, id);
    try {
      await mkdir(dir);
      await writeFile(join(dir, 'memory.max'), String(limits.memoryBytes));
      if (existsSync(join(dir, 'memory.swap.max'))) await writeFile(join(dir, 'memory.swap.max'), '0');
      await writeFile(join(dir, 'pids.max'), String(limits.pids));
    } catch (err) {
      await removeDirs([dir]).catch(() => undefined);
      throw err;
    }
    const killAll = async (): Promise<void> => {
      if (existsSync(join(dir, 'cgroup.kill'))) await writeFile(join(dir, 'cgroup.kill'), '1').catch(() => undefined);
      await killPids([dir]);
    };
    return {
      id,
      procsFiles: [join(dir, 'cgroup.procs')],
      async stats() {
        const mem = await readOr(join(dir, 'memory.events'), '');
        const events = await readOr(join(dir, 'pids.events'), '');
        return { oomKills: counter(mem, 'oom_kill'), pidsRefused: counter(events, 'max') };
      },
      killAll,
      async remove() {
        await killAll();
        await removeDirs([dir]);
      },
    };
  }
}

/** `<root>/<own path>` when it exists (no cgroup namespace), else `<root>` (we are at the namespace's root). */
function ownDir(root: string, own: string | undefined): string {
  const candidate = join(root, own ?? '/');
  return existsSync(candidate) ? candidate : root;
}

async function ensureParent(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Proves a group can be made, limited and removed, with a throwaway one (entering it is proved by the sandbox's probe run). */
async function check(backend: CgroupBackend): Promise<void> {
  const group = await backend.create({ memoryBytes: 64 * 1024 * 1024, pids: 8 });
  await group.remove();
}

/**
 * The cgroup backend to use, or why there is none (read-only /sys/fs/cgroup in
 * an unprivileged container, v2 without delegated controllers, no cgroupfs).
 */
export async function detectCgroups(root = '/sys/fs/cgroup', procSelfCgroup = '/proc/self/cgroup'): Promise<CgroupBackend | { unavailable: string }> {
  const own = parseProcCgroup(await readOr(procSelfCgroup, ''));
  try {
    if (existsSync(join(root, 'memory', 'cgroup.procs')) && existsSync(join(root, 'pids', 'cgroup.procs'))) {
      const memoryParent = join(ownDir(join(root, 'memory'), own.get('memory')), PARENT);
      const pidsParent = join(ownDir(join(root, 'pids'), own.get('pids')), PARENT);
      await ensureParent(memoryParent);
      await ensureParent(pidsParent);
      // Children inherit use_hierarchy from the parent on v1; limits of the executor's own group still apply above ours.
      await sweepStale([memoryParent, pidsParent]);
      const backend = new V1Backend(memoryParent, pidsParent);
      await check(backend);
      return backend;
    }
    if (existsSync(join(root, 'cgroup.controllers'))) {
      const base = ownDir(root, own.get(''));
      const parent = join(base, PARENT);
      await ensureParent(parent);
      // The parent must hand memory and pids down to our per-run groups; this fails (EBUSY) when
      // the executor's own group holds processes and is not the root (cgroup v2's "no internal
      // processes" rule) unless the operator delegated a subtree to us.
      const controllers = (await readOr(join(parent, 'cgroup.controllers'), '')).split(/\s+/);
      if (!controllers.includes('memory') || !controllers.includes('pids')) {
        await writeFile(join(base, 'cgroup.subtree_control'), '+memory +pids');
      }
      await writeFile(join(parent, 'cgroup.subtree_control'), '+memory +pids');
      await sweepStale([parent]);
      const backend = new V2Backend(parent);
      await check(backend);
      return backend;
    }
    return { unavailable: `no cgroup v1 memory+pids hierarchies or cgroup v2 under ${root}` };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { unavailable: `${e.code ?? 'error'}: ${e.message}` };
  }
}
