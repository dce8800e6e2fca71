import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join, resolve } from 'node:path';
import { runCodeTool } from '../tools/run-code.tool';
import type { RunCodeResult } from '../tools/run-code.tool';
import type { ToolContext } from '../tools/tool.definition';
import { ToolRegistry } from '../tools/tool.registry';
import { ProcessSandbox } from './process.sandbox';
import type { SandboxStatus } from './process.sandbox';

/**
 * Sandbox escape suite: every attempt must be contained with a clear result,
 * and afterwards the executor must still serve normal calls. Real bubblewrap,
 * real cgroups where writable; calls go through the tool definition and the
 * registry exactly as the executor makes them. Assertions are on outcomes
 * (what got out, what got killed and why), never on timings.
 */

jest.setTimeout(90_000);

// Set before any sandbox exists: nothing of the executor's environment may reach the code.
const SECRET = `keel-escape-secret-${randomBytes(12).toString('hex')}`;
process.env.KEEL_ESCAPE_TEST_SECRET = SECRET;
const MARK = `keel-escape-${process.pid}-${randomBytes(6).toString('hex')}`;
const REPO = resolve(__dirname, '../../../..');
const REPO_FILE = join(REPO, 'package.json');
const REPO_TEXT = '"name": "keel"';

const logs: string[] = [];
const sandbox = new ProcessSandbox({ timeoutMs: 10_000 }, {
  info: (_o, m) => logs.push(`info ${m}`), warn: (_o, m) => logs.push(`warn ${m}`), error: (_o, m) => logs.push(`error ${m}`),
});
const registry = new ToolRegistry([runCodeTool({ sandbox, config: { timeoutMs: 10_000 } })]);
let status: SandboxStatus;

function ctx(timeoutMs = 12_000): ToolContext {
  return { idempotencyKey: `escape:${randomBytes(4).toString('hex')}`, allow: [], timeoutMs, signal: new AbortController().signal };
}

/** One call as the executor makes it (validation included). `wallMs` sets the call's timeout, so the run's wall time. */
async function run(language: string, code: string, wallMs = 10_000): Promise<RunCodeResult> {
  return await registry.invoke('run_code', { language, code }, ctx(wallMs + 300)) as RunCodeResult;
}

const cgroups = (): boolean => status.limits === 'cgroup v1' || status.limits === 'cgroup v2';

// Host-side witnesses: each must see nothing from the sandbox.
let tcp: Server;
let tcpPort = 0;
let tcpConnections = 0;
let udp: UdpSocket;
let udpPort = 0;
let udpMessages = 0;
let abstract: Server;
let abstractConnections = 0;
/** Stands in for "a running executor" on the host: a live node process the sandbox must not be able to signal. */
let hostProcess: ChildProcess;

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  status = await sandbox.probe();
  if (!status.ok) throw new Error(`the sandbox is not usable on this machine: ${status.reason}`);
  tcp = createServer((s) => {
    tcpConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  tcpPort = (tcp.address() as { port: number }).port;
  udp = createSocket('udp4');
  udp.on('message', () => udpMessages++);
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  udpPort = udp.address().port;
  abstract = createServer((s) => {
    abstractConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => abstract.listen(`\0${MARK}`, r));
  hostProcess = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
});

afterAll(async () => {
  hostProcess?.kill('SIGKILL');
  await new Promise((r) => tcp?.close(r));
  await new Promise((r) => abstract?.close(r));
  udp?.close();
});

describe('network', () => {
  it.each([
    ['python', 'import socket\ntry:\n    socket.create_connection(("1.1.1.1", 80), timeout=3)\n    print("CONNECTED")\nexcept OSError as e:\n    print("BLOCKED", e)'],
    ['node', 'require("net").connect({ host: "1.1.1.1", port: 80, timeout: 3000 }).on("connect", () => { console.log("CONNECTED"); process.exit(0); }).on("error", (e) => console.log("BLOCKED", e.code)).on("timeout", () => { console.log("BLOCKED timeout"); process.exit(0); })'],
  ])('%s: TCP to 1.1.1.1:80 fails', async (language, code) => {
    const r = await run(language, code);
    expect(r.stdout).toMatch(/^BLOCKED .*(unreachable|ENETUNREACH)/i);
    expect(r.stdout).not.toContain('CONNECTED');
  });

  it.each(['python', 'node'])('%s: TCP to a listener on the host\'s 127.0.0.1 reaches only the sandbox\'s own loopback', async (language) => {
    const code = language === 'python'
      ? `import socket\ntry:\n    socket.create_connection(("127.0.0.1", ${tcpPort}), timeout=3)\n    print("CONNECTED")\nexcept OSError as e:\n    print("BLOCKED", e)`
      : `require("net").connect(${tcpPort}, "127.0.0.1").on("connect", () => { console.log("CONNECTED"); process.exit(0); }).on("error", (e) => console.log("BLOCKED", e.code))`;
    const r = await run(language, code);
    expect(r.stdout).toMatch(/^BLOCKED .*(refused|ECONNREFUSED)/i);
    expect(tcpConnections).toBe(0);
  });

  it.each(['python', 'node'])('%s: UDP to the internet fails and datagrams to the host\'s loopback go nowhere', async (language) => {
    const code = language === 'python'
      ? `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor host, port in (("1.1.1.1", 53), ("127.0.0.1", ${udpPort})):\n    try:\n        s.sendto(b"escape", (host, port))\n        print("SENT", host)\n    except OSError as e:\n        print("BLOCKED", host, e)`
      : `const s = require("dgram").createSocket("udp4");\nconst send = (host, port, next) => s.send("escape", port, host, (e) => { console.log(e ? "BLOCKED " + host + " " + e.code : "SENT " + host); next(); });\nsend("1.1.1.1", 53, () => send("127.0.0.1", ${udpPort}, () => s.close()));`;
    const r = await run(language, code);
    expect(r.stdout).toMatch(/^BLOCKED 1\.1\.1\.1 .*(unreachable|ENETUNREACH)/im);
    await new Promise((res) => setTimeout(res, 300));
    expect(udpMessages).toBe(0); // "SENT 127.0.0.1" went to the sandbox's own loopback
  });

  it.each([
    ['python', 'import socket\ntry:\n    print("RESOLVED", socket.getaddrinfo("example.com", 80))\nexcept OSError as e:\n    print("BLOCKED", e)'],
    ['node', 'require("dns").lookup("example.com", (e, a) => console.log(e ? "BLOCKED " + e.code : "RESOLVED " + a))'],
    ['sh', 'if getent hosts example.com; then echo RESOLVED; else echo "BLOCKED $?"; fi'],
  ])('%s: DNS lookups fail', async (language, code) => {
    const r = await run(language, code);
    expect(r.stdout).toMatch(/^BLOCKED/m);
    expect(r.stdout).not.toContain('RESOLVED');
  });

  it('python: an abstract unix socket on the host is in another network namespace', async () => {
    const r = await run('python', `import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect("\\0${MARK}")\n    print("CONNECTED")\nexcept OSError as e:\n    print("BLOCKED", e)`);
    expect(r.stdout).toMatch(/^BLOCKED/);
    expect(abstractConnections).toBe(0);
  });
});

describe('host files and environment', () => {
  it.each([
    ['sh', 'cat /etc/shadow || echo BLOCKED'],
    ['python', 'try:\n    print(open("/etc/shadow").read())\nexcept OSError as e:\n    print("BLOCKED", e)'],
    ['node', 'try { console.log(require("fs").readFileSync("/etc/shadow", "utf8")); } catch (e) { console.log("BLOCKED", e.code); }'],
  ])('%s: /etc/shadow is not there', async (language, code) => {
    const r = await run(language, code);
    expect(r.stdout).toMatch(/BLOCKED/);
    expect(r.stdout).not.toMatch(/^root:/m);
  });

  it('sh: the executor\'s environment is invisible: env, /proc/1/environ, /proc/$PPID/environ, every /proc/*/environ', async () => {
    const r = await run('sh', 'env; echo "ppid=$PPID"; for f in /proc/1/environ /proc/$PPID/environ /proc/self/environ /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$f"; done; echo DONE');
    expect(r.stdout).toContain('ppid=1'); // its parent is the sandbox's own init
    expect(r.stdout).toContain('DONE');
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).not.toContain('KEEL_ESCAPE_TEST_SECRET');
    expect(r.stdout).not.toMatch(/DATABASE_URL|NATS_URL|JEST_WORKER_ID/);
  });

  it.each([
    ['python', 'import os, json, glob\nfound = {}\nfor f in ["/proc/1/environ", "/proc/%d/environ" % os.getppid()] + glob.glob("/proc/[0-9]*/environ"):\n    try:\n        found[f] = open(f, "rb").read().decode()\n    except OSError as e:\n        found[f] = "ERR " + str(e)\nprint(json.dumps({"env": sorted(os.environ), "proc": found}))'],
    ['node', 'const fs = require("fs"); const proc = {}; for (const p of fs.readdirSync("/proc").filter((d) => /^\\d+$/.test(d))) { try { proc[p] = fs.readFileSync(`/proc/${p}/environ`, "utf8"); } catch (e) { proc[p] = "ERR " + e.code; } } console.log(JSON.stringify({ env: Object.keys(process.env).sort(), proc }))'],
  ])('%s: only PATH, HOME, LANG, TMPDIR and USER are set, and no process shows the secret', async (language, code) => {
    const r = await run(language, code);
    const seen = JSON.parse(r.stdout) as { env: string[]; proc: Record<string, string> };
    expect(seen.env.filter((k) => !['HOME', 'LANG', 'PATH', 'TMPDIR', 'USER', 'PWD'].includes(k))).toEqual([]);
    expect(r.stdout).not.toContain(SECRET);
    expect(Object.keys(seen.proc).length).toBeGreaterThan(0);
  });

  it.each([
    ['sh', `for p in ${REPO} ${REPO_FILE} /work /root /home /sys /var /run /etc/hostname /proc/1/root${REPO}; do if [ -e "$p" ]; then echo "VISIBLE $p"; else echo "ABSENT $p"; fi; done; cat ${REPO_FILE} 2>&1`],
    ['python', `import os, json\nprint(json.dumps({p: os.path.exists(p) for p in ["${REPO}", "${REPO_FILE}", "/work", "/root", "/home", "/sys", "/var", "/run"]}))`],
  ])('%s: host directories (the repo, /root, /home, /sys…) do not exist in the sandbox', async (language, code) => {
    const r = await run(language, code);
    expect(r.stdout).not.toContain('VISIBLE');
    expect(r.stdout).not.toContain(REPO_TEXT);
    if (language === 'python') expect(Object.values(JSON.parse(r.stdout) as Record<string, boolean>)).toEqual(Array(8).fill(false));
  });

  it.each([
    ['sh', `for d in /usr /etc / /dev /tmp /sandbox /proc/sys/kernel; do if echo x > "$d/${MARK}" 2>/dev/null; then echo "WROTE $d"; else echo "REFUSED $d"; fi; done`],
    ['python', `for d in ["/usr", "/etc", "/", "/dev", "/tmp", "/sandbox"]:\n    try:\n        open(d.rstrip("/") + "/${MARK}", "w").write("x")\n        print("WROTE", d)\n    except OSError as e:\n        print("REFUSED", d, e.strerror)`],
  ])('%s: writes land only in the work dir and the private /tmp; nothing appears on the host', async (language, code) => {
    const r = await run(language, code);
    for (const d of ['/usr', '/etc', '/', '/dev']) expect(r.stdout).toMatch(new RegExp(`^REFUSED ${d === '/' ? '/(?=\\s|$)' : d}`, 'm'));
    expect(r.stdout).toMatch(/^WROTE \/tmp/m);
    expect(r.stdout).toMatch(/^WROTE \/sandbox/m);
    for (const d of ['/usr', '/etc', '/', '/dev', '/tmp']) expect(existsSync(join(d, MARK))).toBe(false);
  });

  it.each([
    ['sh', `ln -s /etc/shadow shadow; cat shadow; ln -s ${REPO_FILE} repo; cat repo; ln -s ../../../../../../../..${REPO_FILE} up; cat up; cat ../../../../../..${REPO_FILE}; cat /proc/self/root${REPO_FILE}; cat /proc/1/root${REPO_FILE}; cat /proc/1/cwd/../../..${REPO_FILE}; ls -la; echo END`],
    ['python', `import os\nos.symlink("${REPO_FILE}", "repo")\nos.symlink("/", "root")\nfor p in ["repo", "root${REPO_FILE}", "/sandbox/../../../..${REPO_FILE}", "/proc/self/root${REPO_FILE}"]:\n    try:\n        print("READ", p, open(p).read()[:200])\n    except OSError as e:\n        print("BLOCKED", p, e.strerror)`],
  ])('%s: symlinks and .. resolve inside the sandbox, never to host files', async (language, code) => {
    const r = await run(language, code);
    expect(r.stdout).not.toContain(REPO_TEXT);
    expect(r.stdout).not.toMatch(/^root:/m);
    expect(r.stdout).not.toMatch(/^READ/m);
    expect(readFileSync(REPO_FILE, 'utf8')).toContain(REPO_TEXT); // the host file is intact
  });

  it('sh: nested user namespaces are refused (when bubblewrap supports --disable-userns)', async () => {
    const r = await run('sh', 'if unshare -U true 2>/dev/null; then echo NESTED; else echo REFUSED; fi');
    if (status.disableUserns) expect(r.stdout.trim()).toBe('REFUSED');
    else expect(r.stdout.trim()).toMatch(/^(REFUSED|NESTED)$/);
  });
});

describe('resource exhaustion', () => {
  it.each([
    ['sh', 'f() { f | f & }; f; sleep 30'],
    ['python', 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass'],
    ['node', 'const { spawn } = require("child_process"); const go = () => { try { spawn("sleep", ["30"]).on("error", () => {}); } catch {} setImmediate(go); }; go();'],
  ])('%s: a fork bomb is stopped by the process limit', async (language, code) => {
    const r = await run(language, code, 8_000);
    expect(r.killed).toBe(cgroups() ? 'pids' : 'timeout');
    expect(r.exitCode).not.toBe(0);
  });

  it.each([
    ['python', 'x = []\nwhile True:\n    x.append(bytearray(10 ** 7))'],
    ['node', 'const a = []; for (;;) a.push(Buffer.alloc(1e7, 1));'],
  ])('%s: a memory bomb is stopped by the memory limit', async (language, code) => {
    const r = await run(language, code, 8_000);
    if (cgroups()) expect(r.killed).toBe('memory');
    expect(r.exitCode).not.toBe(0);
  });

  it('node: a V8 heap bomb ends in V8\'s own heap-limit error (heap capped below the memory limit)', async () => {
    const r = await run('node', 'const a = []; for (;;) a.push(new Array(1e6).fill({ x: 1 }));', 8_000);
    expect(r.exitCode).not.toBe(0);
    expect(r.killed === 'memory' || /heap out of memory|Reached heap limit/.test(r.stderr)).toBe(true);
  });

  it.each([
    ['python', 'while True:\n    pass'],
    ['node', 'for (;;) {}'],
    ['sh', 'while :; do :; done'],
    ['sh', 'sleep 1000'],
  ])('%s: an endless run (%s) is stopped at its wall time', async (language, code) => {
    const r = await run(language, code, 1_500);
    expect(r).toMatchObject({ killed: 'timeout', exitCode: 137 });
  });

  it.each([
    ['sh', 'head -c 1000000000 /dev/zero | tr "\\0" x'],
    ['python', 'import sys\nchunk = "x" * 65536\nfor _ in range(16384):\n    sys.stdout.write(chunk)'],
    ['node', 'const s = "x".repeat(65536); let n = 0; const w = () => { while (n++ < 16384) { if (!process.stdout.write(s)) return process.stdout.once("drain", w); } }; w();'],
  ])('%s: 1 GB of output is cut at the cap and the run killed, not waited for', async (language, code) => {
    const r = await run(language, code, 20_000);
    expect(r).toMatchObject({ truncated: true, killed: 'output' });
    const bytes = Buffer.byteLength(r.stdout) + Buffer.byteLength(r.stderr);
    expect(bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(bytes).toBeGreaterThan(1000 * 1000);
  });

  it('sh: the work dir is capped at its tmpfs size', async () => {
    const r = await run('sh', 'dd if=/dev/zero of=big bs=1M count=200 2>&1; ls -l big | tr -s " " | cut -d" " -f5');
    expect(r.stdout).toMatch(/No space left on device/);
    expect(Number(r.stdout.trim().split('\n').pop())).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  it.each([
    ['js: endless loop', 'for (;;) {}', 'timeout'],
    ['js: memory bomb', 'const a = []; for (;;) a.push({ i: a.length, s: "abc" + a.length });', 'memory'],
    ['js: output flood', 'for (;;) console.log("z".repeat(1000))', 'output'],
  ])('%s is stopped', async (_name, code, killed) => {
    const r = await run('js', code, 3_000);
    expect(r.killed).toBe(killed);
  });

  it('js: no host APIs are reachable', async () => {
    const r = await run('js', '[typeof require, typeof process, typeof fetch, typeof XMLHttpRequest, typeof setTimeout, typeof WebAssembly, typeof import.meta]');
    expect(r.exitCode).toBe(1); // import.meta is a syntax error in a script: no module loader either
    const s = await run('js', '[typeof require, typeof process, typeof fetch, typeof XMLHttpRequest, typeof setTimeout, typeof WebAssembly]');
    expect(s.result).toEqual(Array(6).fill('undefined'));
  });
});

describe('signals', () => {
  it.each([
    ['sh', () => `kill -9 $PPID; kill -9 1; kill -9 ${hostProcess.pid}; kill -9 ${process.pid}; kill -9 -1; echo AFTER`],
    ['python', () => `import os\nfor pid in (os.getppid(), 1, ${hostProcess.pid}, ${process.pid}, -1):\n    try:\n        os.kill(pid, 9)\n        print("SIGNALLED", pid)\n    except OSError as e:\n        print("REFUSED", pid, e.strerror)`],
    ['node', () => `for (const pid of [process.ppid, 1, ${hostProcess.pid}, ${process.pid}]) { try { process.kill(pid, "SIGKILL"); console.log("SIGNALLED", pid); } catch (e) { console.log("REFUSED", pid, e.code); } }`],
  ])('%s: kill -9 of its parent, pid 1 and host pids touches nothing outside', async (language, code) => {
    // A run in flight at the same time stands for the executor's other work.
    const concurrent = run('python', 'import time\ntime.sleep(1.5)\nprint("survived")');
    const r = await run(language, code());
    expect(r.killed).toBeUndefined(); // it finished on its own terms
    expect(await concurrent).toMatchObject({ exitCode: 0, stdout: 'survived\n' });
    expect(alive(hostProcess.pid)).toBe(true);
    expect(alive(process.pid)).toBe(true);
  });
});

describe('after every attempt', () => {
  it.each([
    ['python', 'print(6 * 7)', '42\n'],
    ['node', 'console.log(6 * 7)', '42\n'],
    ['sh', 'echo $((6 * 7))', '42\n'],
  ])('%s still serves a normal call', async (language, code, stdout) => {
    expect(await run(language, code)).toMatchObject({ exitCode: 0, stdout, stderr: '', truncated: false });
  });

  it('js still serves a normal call, and stdin still reaches python', async () => {
    expect((await run('js', '6 * 7')).result).toBe(42);
    const r = await registry.invoke('run_code', { language: 'python', code: 'import sys\nprint(sys.stdin.read().upper())', stdin: 'hello' }, ctx()) as RunCodeResult;
    expect(r.stdout).toBe('HELLO\n');
  });

  it('nothing reached the host\'s witnesses, the host process lives and no cgroup of ours is left', async () => {
    expect({ tcpConnections, udpMessages, abstractConnections }).toEqual({ tcpConnections: 0, udpMessages: 0, abstractConnections: 0 });
    expect(alive(hostProcess.pid)).toBe(true);
    if (cgroups()) {
      for (const parent of (status.cgroupNote ?? '').split(', ')) {
        expect(readdirSync(parent).filter((d) => d.startsWith(`${process.pid}-`))).toEqual([]);
      }
    }
    expect(logs.filter((l) => l.startsWith('error'))).toEqual([]);
  });
});
