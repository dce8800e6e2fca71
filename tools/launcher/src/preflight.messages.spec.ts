import {
  databaseNotCreated, describeError, isSqlState, jetStreamDisabled, natsUnreachable, postgresRejected, postgresUnreachable,
  quoteIdent, redactUrl, splitDatabaseUrl, START_NATS, START_POSTGRES,
} from './preflight.messages';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED' });

describe('pre-flight messages', () => {
  it('names the NATS URL, the cause, the start command and NATS_URL', () => {
    const m = natsUnreachable('nats://127.0.0.1:4999', new Error('connection refused'));
    expect(m).toContain('NATS is not reachable at nats://127.0.0.1:4999 (connection refused)');
    expect(m).toContain(START_NATS);
    expect(m).toContain('-js');
    expect(m).toMatch(/NATS_URL=/);
  });

  it('tells JetStream being off apart from NATS being down', () => {
    expect(jetStreamDisabled('nats://h:4222', new Error('jetstream is not enabled'))).toMatch(/answers, but JetStream is not enabled/);
  });

  it('names the Postgres URL without its password, the start command and DATABASE_URL', () => {
    const m = postgresUnreachable('postgres://me:secret@127.0.0.1:5999/keel', refused);
    expect(m).toContain('Postgres is not reachable at postgres://me:***@127.0.0.1:5999/keel (connect ECONNREFUSED 127.0.0.1:5999)');
    expect(m).not.toContain('secret');
    expect(m).toContain(START_POSTGRES);
    expect(m).toMatch(/DATABASE_URL=/);
  });

  it('says a running server refused us (no start advice) when Postgres answered with an SQLSTATE', () => {
    const err = Object.assign(new Error('role "x" does not exist'), { code: '28000' });
    expect(isSqlState('28000')).toBe(true);
    expect(isSqlState('ECONNREFUSED')).toBe(false);
    const m = postgresRejected('postgres://x@h/keel', err);
    expect(m).toContain('is running but refused the connection (28000: role "x" does not exist)');
    expect(m).not.toContain('pg_ctlcluster');
  });

  it('explains a database it could not create', () => {
    expect(databaseNotCreated('postgres://u@h/keel', 'keel', new Error('permission denied'))).toMatch(/createdb keel/);
  });

  it('describes errors, unwrapping AggregateError and adding codes', () => {
    expect(describeError(new AggregateError([refused], ''))).toBe('connect ECONNREFUSED 127.0.0.1:5999');
    expect(describeError(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }))).toBe('ETIMEDOUT: timeout');
    expect(describeError('odd')).toBe('odd');
  });

  it('splits a database URL and quotes identifiers', () => {
    expect(splitDatabaseUrl('postgres://postgres@127.0.0.1:5432/keel?sslmode=disable')).toEqual({
      database: 'keel', maintenanceUrl: 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable',
    });
    expect(splitDatabaseUrl('postgres://alice@h:5432').database).toBe('alice');
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(redactUrl('not a url')).toBe('<unparseable url>'); // never echo what might hold a password
  });
});
