import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ApiKeyChoice } from './banner';
import { apiKeyNotice, chooseApiKey } from './banner';
import { runMigrations } from './migrations';
import type { Output } from './output';
import { checkNats, checkPostgres, PreflightError } from './preflight';
import { redactUrl } from './preflight.messages';
import type { ServiceName } from './services';
import { serviceEntry } from './services';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/keel';
/** DEVELOPMENT ONLY, like the dev API key: production sets KEEL_APPROVAL_SIGNING_KEY from a secret. */
export const DEV_SIGNING_KEY = 'keel-dev-approval-signing-key-not-secret';

/** dist/ → tools/launcher → tools → the repository root. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export interface Startup {
  root: string;
  natsUrl: string;
  databaseUrl: string;
  apiKey: ApiKeyChoice;
  /** The environment every service process starts from. */
  env: NodeJS.ProcessEnv;
}

/** A reason to stop before starting anything: printed, then exit 1. */
export class StartupError extends Error {}

export function resolveStartup(): Startup {
  const natsUrl = process.env.NATS_URL || DEFAULT_NATS_URL;
  const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const apiKey = chooseApiKey(process.env);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NATS_URL: natsUrl,
    DATABASE_URL: databaseUrl,
    KEEL_BOOTSTRAP_API_KEY: apiKey.value,
    // Approval decisions are signed by the approval service and verified by the orchestrator: one key for all
    // replicas. Unset, a fixed development key (like the API key), so stored decisions still verify after a restart.
    KEEL_APPROVAL_SIGNING_KEY: process.env.KEEL_APPROVAL_SIGNING_KEY || DEV_SIGNING_KEY,
  };
  return { root: REPO_ROOT, natsUrl, databaseUrl, apiKey, env };
}

export function checkBuilt(root: string, services: readonly ServiceName[]): void {
  const missing = services.filter((s) => !existsSync(join(root, serviceEntry(s))));
  if (missing.length > 0) {
    throw new StartupError(
      `not built yet: ${missing.map((s) => serviceEntry(s)).join(', ')}\n` +
      'Run `npm run build` first (`npm start` builds before it launches).',
    );
  }
}

/** Pre-flight (NATS with JetStream, Postgres, database created if missing), then migrations. */
export async function prepare(s: Startup, services: readonly ServiceName[], out: Output): Promise<void> {
  checkBuilt(s.root, services);
  out.info(apiKeyNotice(s.apiKey));
  const [nats, pg] = await Promise.allSettled([checkNats(s.natsUrl), checkPostgres(s.databaseUrl)]);
  const problems: unknown[] = [nats, pg].flatMap((r): unknown[] => (r.status === 'rejected' ? [r.reason] : []));
  if (problems.length > 0) {
    throw new StartupError(problems.map((p) => (p instanceof PreflightError ? p.message : String(p))).join('\n\n'));
  }
  out.info(`NATS ok (JetStream) at ${redactUrl(s.natsUrl)}`);
  if (pg.status === 'fulfilled') {
    out.info(`Postgres ok at ${redactUrl(s.databaseUrl)}${pg.value.created ? ` (created database "${pg.value.database}")` : ''}`);
  }
  out.info(`applying migrations: ${services.join(', ')}`);
  const result = await runMigrations(s.root, services, s.env, out);
  if (result.failed) {
    throw new StartupError(`migrations of ${result.failed} failed (exit code ${result.code ?? 'none'}); see its output above`);
  }
}
