import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cost accounting and budgets.
 * - `usage`: one row per model call, priced from the price table; its id is
 *   the budget reservation's id, so settling a call twice records it once.
 * - `budget_spend`: one row per (scope, period), e.g. (`tenant:acme`,
 *   `day:2026-11-24`). A call first reserves its estimate on every row that
 *   applies (spent + reserved + estimate <= limit, checked under the row lock),
 *   then moves the actual cost from reserved to spent. `alerted_80` makes the
 *   80 % alert fire once per scope and period.
 * - `budget_reservations`: reservations not yet settled or released, so a
 *   settle or release applies once and a router that died mid-call leaves
 *   something to sweep instead of a period blocked by a leaked reservation.
 * Amounts are numeric(20,10): exact sums, no float drift across many calls.
 */
export class UsageBudgets1764000000010 implements MigrationInterface {
  name = 'UsageBudgets1764000000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE router.usage (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        user_id text,
        agent text NOT NULL,
        task_id text NOT NULL,
        step int NOT NULL,
        model text NOT NULL,
        input_tokens int NOT NULL CHECK (input_tokens >= 0),
        cached_input_tokens int NOT NULL DEFAULT 0 CHECK (cached_input_tokens >= 0),
        output_tokens int NOT NULL CHECK (output_tokens >= 0),
        cost_usd numeric(20,10) NOT NULL CHECK (cost_usd >= 0),
        cache_hit boolean NOT NULL DEFAULT false,
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX usage_task ON router.usage (task_id)');
    await q.query('CREATE INDEX usage_tenant_at ON router.usage (tenant, at)');
    await q.query(`
      CREATE TABLE router.budget_spend (
        scope text NOT NULL,
        period text NOT NULL,
        limit_usd numeric(20,10) NOT NULL CHECK (limit_usd >= 0),
        spent_usd numeric(20,10) NOT NULL DEFAULT 0,
        reserved_usd numeric(20,10) NOT NULL DEFAULT 0 CHECK (reserved_usd >= 0),
        alerted_80 boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, period)
      )`);
    await q.query(`
      CREATE TABLE router.budget_reservations (
        id uuid PRIMARY KEY,
        scopes text[] NOT NULL,
        periods text[] NOT NULL,
        estimate_usd numeric(20,10) NOT NULL CHECK (estimate_usd >= 0),
        task_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX budget_reservations_created ON router.budget_reservations (created_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE router.budget_reservations');
    await q.query('DROP TABLE router.budget_spend');
    await q.query('DROP TABLE router.usage');
  }
}
