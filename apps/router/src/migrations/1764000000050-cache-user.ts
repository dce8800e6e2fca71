import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `user_id` on cached answers in a user's partition (tasks that name a userId), so deleting a
 * user's memory (`DELETE /v1/memory/users/{id}` on the orchestrator) deletes their cached prompts
 * and answers too: one indexed DELETE. Rows cached before this column have it NULL and leave with
 * their TTL (1 h by default).
 */
export class CacheUser1764000000050 implements MigrationInterface {
  name = 'CacheUser1764000000050';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE router.response_cache ADD COLUMN user_id text');
    await q.query('CREATE INDEX response_cache_tenant_user ON router.response_cache (tenant, user_id) WHERE user_id IS NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX router.response_cache_tenant_user');
    await q.query('ALTER TABLE router.response_cache DROP COLUMN user_id');
  }
}
