import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The last seen policy of each agent (docs/audit.md, "Policy changes"): the
 * hash of its agent file's policy-relevant fields and one hash per top-level
 * key. At start an orchestrator compares the agents it loaded with these rows
 * and records `policy.changed` in the audit log for each difference, by a
 * compare-and-set on `hash`, so replicas starting together record a change
 * once.
 */
export class AgentPolicies1764000000600 implements MigrationInterface {
  name = 'AgentPolicies1764000000600';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE orchestrator.agent_policies (
        agent text PRIMARY KEY,
        hash text NOT NULL,
        key_hashes jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE orchestrator.agent_policies');
  }
}
