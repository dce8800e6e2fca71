import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Client } from 'pg';
import {
  databaseNotCreated, isSqlState, jetStreamDisabled, natsUnreachable, postgresRejected, postgresUnreachable, quoteIdent,
  splitDatabaseUrl,
} from './preflight.messages';

/** A pre-flight failure: its message is what the developer sees, then exit 1. */
export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

const TIMEOUT_MS = 2000;

/** A real connect (not just a TCP probe), then a JetStream API call, so a server without -js is caught here. */
export async function checkNats(url: string): Promise<void> {
  let nc;
  try {
    nc = await connect({ servers: url, timeout: TIMEOUT_MS, reconnect: false, name: 'keel-launcher-preflight' });
  } catch (err) {
    throw new PreflightError(natsUnreachable(url, err));
  }
  try {
    await jetstreamManager(nc, { timeout: TIMEOUT_MS });
  } catch (err) {
    throw new PreflightError(jetStreamDisabled(url, err));
  } finally {
    await nc.close().catch(() => undefined);
  }
}

const PG_INVALID_CATALOG = '3D000';

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function tryConnect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: TIMEOUT_MS });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

/**
 * Connects to the database in DATABASE_URL; when the server is up but the
 * database is missing, creates it (a dev convenience). Returns whether it did.
 */
export async function checkPostgres(url: string): Promise<{ created: boolean; database: string }> {
  let split;
  try {
    split = splitDatabaseUrl(url);
  } catch (err) {
    throw new PreflightError(postgresUnreachable(url, err));
  }
  try {
    const client = await tryConnect(url);
    await client.query('SELECT 1');
    await client.end();
    return { created: false, database: split.database };
  } catch (err) {
    const code = pgCode(err);
    if (code !== PG_INVALID_CATALOG) {
      throw new PreflightError(isSqlState(code) ? postgresRejected(url, err) : postgresUnreachable(url, err));
    }
  }
  let admin: Client;
  try {
    admin = await tryConnect(split.maintenanceUrl);
  } catch (err) {
    throw new PreflightError(databaseNotCreated(url, split.database, err));
  }
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(split.database)}`);
  } catch (err) {
    // Another launcher may have created it in the meantime: that is fine.
    if (pgCode(err) !== '42P04') throw new PreflightError(databaseNotCreated(url, split.database, err));
  } finally {
    await admin.end().catch(() => undefined);
  }
  return { created: true, database: split.database };
}
