import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './net';

/**
 * A private nats-server with JetStream for one test file: the real server
 * binary of this machine, on its own port and store, so suites never share
 * streams and a test can restart NATS (the store survives a restart).
 */
export interface TestNats {
  url: string;
  port: number;
  storeDir: string;
  /** The server's log file (only when started with a `config`). */
  logFile?: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface StartNatsOptions {
  /** Extra nats-server configuration (e.g. an `authorization` block); the port, JetStream and store stay set by flags. */
  config?: string;
}

export async function startNats(opts: StartNatsOptions = {}): Promise<TestNats> {
  if (!existsSync(NATS_SERVER_BIN)) {
    throw new Error(`nats-server not found at ${NATS_SERVER_BIN}: apt-get install nats-server, or set NATS_SERVER_BIN`);
  }
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'keel-nats-'));
  let proc: ChildProcess | undefined;
  const configArgs: string[] = [];
  let logFile: string | undefined;
  if (opts.config !== undefined) {
    const file = join(storeDir, 'nats.conf');
    writeFileSync(file, opts.config);
    logFile = join(storeDir, 'nats.log');
    configArgs.push('-c', file, '-l', logFile);
  }
  const launch = async () => {
    proc = spawn(NATS_SERVER_BIN, [...configArgs, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });
    await waitForPort(port, 10_000);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    logFile,
    stop: async () => {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
