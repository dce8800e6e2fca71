/**
 * What the launcher says when NATS or Postgres is not there: the URL it tried
 * (password hidden), why, and the exact command that starts it on a Keel dev
 * machine. Pure, so the wording is unit-tested.
 */
export const START_POSTGRES = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';
export const START_NATS =
  'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log';

import { redactUrl } from '@keel/config';

export { redactUrl };

export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describeError(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    const msg = err.message || err.name;
    return typeof code === 'string' && !msg.includes(code) ? `${code}: ${msg}` : msg;
  }
  return String(err);
}

export function natsUnreachable(url: string, err: unknown): string {
  return [
    `NATS is not reachable at ${redactUrl(url)} (${describeError(err)}).`,
    'Start it on this machine (JetStream enabled) with:',
    `  ${START_NATS}`,
    'or point NATS_URL at a running nats-server started with -js, e.g. NATS_URL=nats://host:4222 npm start',
  ].join('\n');
}

export function jetStreamDisabled(url: string, err: unknown): string {
  return [
    `NATS at ${redactUrl(url)} answers, but JetStream is not enabled (${describeError(err)}).`,
    'Keel needs JetStream: restart nats-server with -js (and a store directory, -sd), e.g.',
    `  ${START_NATS}`,
    'or point NATS_URL at a server that has JetStream.',
  ].join('\n');
}

export function postgresUnreachable(url: string, err: unknown): string {
  return [
    `Postgres is not reachable at ${redactUrl(url)} (${describeError(err)}).`,
    'Start it on this machine with:',
    `  ${START_POSTGRES}`,
    'or point DATABASE_URL at a running server, e.g. DATABASE_URL=postgres://user@host:5432/keel npm start',
  ].join('\n');
}

/** The server answered but refused us (bad role, password, permissions): starting it again will not help. */
export function postgresRejected(url: string, err: unknown): string {
  return [
    `Postgres at ${redactUrl(url)} is running but refused the connection (${describeError(err)}).`,
    'Fix the user, password or database in DATABASE_URL, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/keel npm start',
  ].join('\n');
}

/** SQLSTATE codes are five characters; socket errors have codes like ECONNREFUSED. */
export function isSqlState(code: unknown): boolean {
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

export function databaseNotCreated(url: string, database: string, err: unknown): string {
  return [
    `Database "${database}" does not exist at ${redactUrl(url)} and could not be created (${describeError(err)}).`,
    `Create it yourself (createdb ${database}) or use a role allowed to CREATE DATABASE in DATABASE_URL.`,
  ].join('\n');
}

/** The database name in a postgres URL (its path), and the same URL pointing at the `postgres` maintenance database. */
export function splitDatabaseUrl(url: string): { database: string; maintenanceUrl: string } {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres';
  u.pathname = '/postgres';
  return { database, maintenanceUrl: u.toString() };
}

/** `CREATE DATABASE` takes no parameters: quote the identifier ourselves. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
