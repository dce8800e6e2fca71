import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Output } from './output';
import type { ServiceName } from './services';
import { serviceEntry } from './services';

/**
 * Runs `node apps/<svc>/dist/main.js migrate` for each service, one after the
 * other, before any replica starts, so replicas never race on a schema change.
 * Returns the first service whose migration failed, if any.
 */
export async function runMigrations(
  root: string, services: readonly ServiceName[], env: NodeJS.ProcessEnv, out: Output,
): Promise<{ failed?: ServiceName; code?: number | null }> {
  for (const service of services) {
    const label = `${service}.migrate`;
    const proc = spawn(process.execPath, [join(root, serviceEntry(service)), 'migrate'], {
      cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    out.pipe(label, proc.stdout);
    out.pipe(label, proc.stderr);
    const code = await new Promise<number | null>((resolve) => {
      proc.on('error', (err) => {
        out.warn(`${label}: could not start (${err.message})`);
        resolve(null);
      });
      proc.on('close', (c) => resolve(c));
    });
    if (code !== 0) return { failed: service, code };
  }
  return {};
}
