import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from '@keel/persistence';
import type { Principal, Role } from '@keel/contracts';

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

@Injectable()
export class ApiKeysRepository {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  async findActive(key: string): Promise<Principal | null> {
    const rows: { id: string; tenant: string; role: Role; name: string }[] = await this.db.query(
      `SELECT id, tenant, role, name FROM orchestrator.api_keys
        WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [hashKey(key)],
    );
    const r = rows[0];
    return r ? { keyId: r.id, tenant: r.tenant, role: r.role, name: r.name } : null;
  }

  /** Seeds KEEL_BOOTSTRAP_API_KEY as an admin key of the `default` tenant; idempotent across restarts and replicas. */
  async ensureBootstrapKey(key: string): Promise<void> {
    await this.db.query(
      `INSERT INTO orchestrator.api_keys (id, tenant, role, name, prefix, key_hash)
       VALUES ($1, 'default', 'admin', 'bootstrap', $2, $3) ON CONFLICT (key_hash) DO NOTHING`,
      [randomUUID(), key.slice(0, 8), hashKey(key)],
    );
  }
}
