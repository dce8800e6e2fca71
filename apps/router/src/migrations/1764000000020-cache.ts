import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The router's response cache (src/cache/response-cache.ts). One row per
 * cached answer in a privacy scope (tenant + agent + tool set + user or task);
 * `embedding` is set for answers the semantic cache may match, with the model
 * that made it (vectors of different embedders are never compared). Tenant and
 * agent are columns of their own so invalidation is one indexed DELETE.
 */
export class Cache1764000000020 implements MigrationInterface {
  name = 'Cache1764000000020';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE router.response_cache (
        scope text NOT NULL,
        key_hash text NOT NULL,
        tenant text NOT NULL,
        agent text NOT NULL,
        semantic_group text,
        embedding real[],
        response jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (scope, key_hash),
        CHECK ((semantic_group IS NULL) = (embedding IS NULL))
      )`);
    await q.query('CREATE INDEX response_cache_tenant_agent ON router.response_cache (tenant, agent)');
    await q.query('CREATE INDEX response_cache_expires_at ON router.response_cache (expires_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE router.response_cache');
  }
}
