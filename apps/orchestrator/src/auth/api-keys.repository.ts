import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from '@keel/persistence';
import { KeelError } from '@keel/contracts';
import type { Principal, Role } from '@keel/contracts';
import { withSpan } from '@keel/telemetry';
import { AuditLog } from '../audit/audit-log';
import type { Queryable } from '../audit/audit-log';

/**
 * API keys are random 32-byte secrets shown once; only their SHA-256 is
 * stored (a high-entropy key needs no slow hash). The prefix identifies a key
 * in listings without revealing it.
 */
export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export function newApiKey(): { key: string; prefix: string } {
  const prefix = randomBytes(4).toString('hex');
  return { key: `keel_${prefix}_${randomBytes(32).toString('base64url')}`, prefix: `keel_${prefix}` };
}

/** A key as listed: never its secret nor its hash. */
export interface ApiKeyView {
  id: string;
  prefix: string;
  tenant: string;
  role: Role;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** The one response that carries the secret. */
export interface CreatedApiKey {
  id: string;
  key: string;
  prefix: string;
  tenant: string;
  role: Role;
  name: string;
  expiresAt: string | null;
}

/** A resolved key with the instant it stops working (null: never), so a cached answer can honour expiry exactly. */
export interface KeyLookup {
  principal: Principal;
  expiresAt: number | null;
}

export type Actor = Pick<Principal, 'keyId' | 'name'>;

interface KeyRow {
  id: string;
  tenant: string;
  role: Role;
  name: string;
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const view = (r: KeyRow): ApiKeyView => ({
  id: r.id, prefix: r.prefix, tenant: r.tenant, role: r.role, name: r.name, createdAt: r.created_at.toISOString(), expiresAt: iso(r.expires_at), revokedAt: iso(r.revoked_at),
});

@Injectable()
export class ApiKeysRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource, @Inject(AuditLog) private readonly audit: AuditLog) {}

  async findActive(key: string): Promise<Principal | null> {
    return (await this.lookup(key))?.principal ?? null;
  }

  async lookup(key: string): Promise<KeyLookup | null> {
    const rows: { id: string; tenant: string; role: Role; name: string; expires_at: Date | null }[] = await this.db.query(
      `SELECT id, tenant, role, name, expires_at FROM orchestrator.api_keys
        WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [hashKey(key)],
    );
    const r = rows[0];
    return r ? { principal: { keyId: r.id, tenant: r.tenant, role: r.role, name: r.name }, expiresAt: r.expires_at ? r.expires_at.getTime() : null } : null;
  }

  /** Seeds KEEL_BOOTSTRAP_API_KEY as an admin key of the `default` tenant; idempotent across restarts and replicas. */
  async ensureBootstrapKey(key: string): Promise<void> {
    await this.db.query(
      `INSERT INTO orchestrator.api_keys (id, tenant, role, name, prefix, key_hash)
       VALUES ($1, 'default', 'admin', 'bootstrap', $2, $3) ON CONFLICT (key_hash) DO NOTHING`,
      [randomUUID(), key.slice(0, 8), hashKey(key)],
    );
  }

  /** A new key and its `api_key.created` audit row, in one transaction. */
  async create(input: { tenant: string; role: Role; name: string; expiresAt?: Date }, actor: Actor | null): Promise<CreatedApiKey> {
    return withSpan('api_key.create', { attributes: { 'keel.tenant': input.tenant } }, () => this.db.transaction(async (em) => {
      const created = await this.insertKey(em, input);
      await this.audit.record(em, {
        tenant: input.tenant, actor, action: 'api_key.created', target: created.id,
        details: { prefix: created.prefix, role: created.role, name: created.name, expiresAt: created.expiresAt },
      });
      return created;
    }));
  }

  /** The tenant's keys, newest first, without secrets. */
  async list(tenant: string): Promise<ApiKeyView[]> {
    const rows: KeyRow[] = await this.db.query(
      'SELECT id, tenant, role, name, prefix, created_at, expires_at, revoked_at FROM orchestrator.api_keys WHERE tenant = $1 ORDER BY created_at DESC, id',
      [tenant],
    );
    return rows.map(view);
  }

  /**
   * Revokes a key of the tenant. Idempotent: a key already revoked stays as it
   * was and writes no second audit row. `not_found` for an unknown id or
   * another tenant's key (which is not there, as far as this tenant knows).
   */
  async revoke(tenant: string, id: string, actor: Actor | null): Promise<'revoked' | 'already_revoked' | 'not_found'> {
    return withSpan('api_key.revoke', { attributes: { 'keel.tenant': tenant, 'keel.api_key.id': id } }, () => this.db.transaction(async (em) => {
      const rows: KeyRow[] = await em.query(
        'SELECT id, tenant, role, name, prefix, created_at, expires_at, revoked_at FROM orchestrator.api_keys WHERE id = $1 AND tenant = $2 FOR UPDATE',
        [id, tenant],
      );
      const key = rows[0];
      if (!key) return 'not_found';
      if (key.revoked_at) return 'already_revoked';
      await em.query('UPDATE orchestrator.api_keys SET revoked_at = now() WHERE id = $1', [id]);
      await this.audit.record(em, { tenant, actor, action: 'api_key.revoked', target: id, details: { prefix: key.prefix, role: key.role, name: key.name } });
      return 'revoked';
    }));
  }

  /**
   * A new key with the old one's tenant, role and name; the old key stops at
   * once (graceSeconds 0: revoked) or after the grace period (its expiry is
   * brought forward, never pushed back). The new key's expiry is the one
   * asked for, else the old key's lifetime again if it had one, else none.
   * A revoked or expired key cannot be rotated (conflict): create a new one.
   */
  async rotate(tenant: string, id: string, opts: { graceSeconds: number; expiresAt?: Date }, actor: Actor | null): Promise<CreatedApiKey> {
    return withSpan('api_key.rotate', { attributes: { 'keel.tenant': tenant, 'keel.api_key.id': id } }, () => this.db.transaction(async (em) => {
      const rows: (KeyRow & { expired: boolean; lifetime_ms: string | null })[] = await em.query(
        `SELECT id, tenant, role, name, prefix, created_at, expires_at, revoked_at, expires_at <= now() AS expired,
                (extract(epoch FROM expires_at - created_at) * 1000)::bigint::text AS lifetime_ms
           FROM orchestrator.api_keys WHERE id = $1 AND tenant = $2 FOR UPDATE`,
        [id, tenant],
      );
      const old = rows[0];
      if (!old) throw new KeelError('not_found', `no API key ${id} in this tenant`);
      if (old.revoked_at) throw new KeelError('conflict', `API key ${old.prefix} is revoked; create a new key instead of rotating it`);
      if (old.expired) throw new KeelError('conflict', `API key ${old.prefix} has expired; create a new key instead of rotating it`);
      const lifetime = old.lifetime_ms === null ? undefined : Number(old.lifetime_ms);
      const expiresAt = opts.expiresAt ?? (lifetime !== undefined && lifetime > 0 ? new Date(Date.now() + lifetime) : undefined);
      const created = await this.insertKey(em, { tenant, role: old.role, name: old.name, expiresAt });
      const updated: { expires_at: Date | null; revoked_at: Date | null }[] = opts.graceSeconds === 0
        ? await em.query('UPDATE orchestrator.api_keys SET revoked_at = now() WHERE id = $1 RETURNING expires_at, revoked_at', [id])
        : await em.query(
          `UPDATE orchestrator.api_keys SET expires_at = LEAST(COALESCE(expires_at, 'infinity'::timestamptz), now() + make_interval(secs => $2))
            WHERE id = $1 RETURNING expires_at, revoked_at`,
          [id, opts.graceSeconds],
        );
      const oldStopsAt = updated[0]?.revoked_at ?? updated[0]?.expires_at ?? null;
      await this.audit.record(em, {
        tenant, actor, action: 'api_key.rotated', target: id,
        details: {
          prefix: old.prefix, newKeyId: created.id, newPrefix: created.prefix, role: old.role, name: old.name,
          graceSeconds: opts.graceSeconds, oldKeyStopsAt: iso(oldStopsAt), newExpiresAt: created.expiresAt,
        },
      });
      return created;
    }));
  }

  private async insertKey(q: Queryable, input: { tenant: string; role: Role; name: string; expiresAt?: Date }): Promise<CreatedApiKey> {
    const { key, prefix } = newApiKey();
    const id = randomUUID();
    await q.query(
      'INSERT INTO orchestrator.api_keys (id, tenant, role, name, prefix, key_hash, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [id, input.tenant, input.role, input.name, prefix, hashKey(key), input.expiresAt ?? null],
    );
    return { id, key, prefix, tenant: input.tenant, role: input.role, name: input.name, expiresAt: iso(input.expiresAt ?? null) };
  }
}
