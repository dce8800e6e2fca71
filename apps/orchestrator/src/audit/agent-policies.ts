import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import type { Agent } from '@keel/contracts';
import { DataSource } from '@keel/persistence';
import { AGENTS, ENV, LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { AuditLog } from './audit-log';

/** Top-level agent-file keys that describe, not decide: left out of the policy hash. */
export const NON_POLICY_KEYS: readonly string[] = ['description'];

export interface PolicyFingerprint {
  /** sha256 over the per-key hashes. */
  hash: string;
  /** sha256 of each policy-relevant top-level key's canonical JSON. */
  keys: Record<string, string>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, canonical(x)]));
  return v;
}

/** The policy of an agent as loaded (defaults applied): tools, risk tiers, approvals, guardrail, budgets, limits, model, prompt… */
export function policyFingerprint(agent: Agent): PolicyFingerprint {
  const keys = Object.fromEntries(Object.entries(agent)
    .filter(([k, v]) => !NON_POLICY_KEYS.includes(k) && v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k, sha256(JSON.stringify(canonical(v)))]));
  return { hash: sha256(JSON.stringify(keys)), keys };
}

/** Top-level keys whose hash differs (added, removed or changed), sorted. */
export function changedKeys(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => before[k] !== after[k]).sort();
}

export interface PolicyChange {
  agent: string;
  change: 'added' | 'changed' | 'removed';
  changedKeys: string[];
  oldHash: string | null;
  newHash: string | null;
}

type Stored = { agent: string; hash: string; key_hashes: Record<string, string> };

/**
 * Agent files are the policy. At start the orchestrator compares each loaded
 * agent's fingerprint with the last one seen (`orchestrator.agent_policies`)
 * and appends `policy.changed` to the audit log for every agent that is new,
 * changed or gone, actor `deploy:<KEEL_INSTANCE>`. Each change is a
 * compare-and-set on the stored hash in the same transaction as its audit
 * row, so replicas starting together record it once.
 */
@Injectable()
export class AgentPolicyTracker implements OnApplicationBootstrap {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Inject(AuditLog) private readonly audit: AuditLog,
    @Inject(ENV) private readonly env: { KEEL_INSTANCE: string; KEEL_POLICY_AUDIT_TENANT: string },
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    try {
      const changes = await this.sync();
      if (changes.length > 0) this.logger.info({ policy_changes: changes.map((c) => `${c.agent}:${c.change}`) }, 'agent policy changes recorded in the audit log');
    } catch (err) {
      // The audit of a deploy must not keep the service down; the next start compares again.
      this.logger.error({ err }, 'could not record agent policy changes');
    }
  }

  /** Records the differences between the loaded agents and the stored fingerprints; returns the changes this replica recorded. */
  async sync(): Promise<PolicyChange[]> {
    const recorded: PolicyChange[] = [];
    const current = new Map([...this.agents.values()].map((a) => [a.name, policyFingerprint(a)]));
    const names = new Set<string>([...current.keys(), ...(await this.stored()).map((s) => s.agent)]);
    for (const agent of [...names].sort()) {
      // Compare-and-set, re-read when another replica moved the row meanwhile (a few rounds at most).
      for (let round = 0; round < 3; round++) {
        const outcome = await this.apply(agent, current.get(agent));
        if (outcome === 'retry') continue;
        if (outcome) recorded.push(outcome);
        break;
      }
    }
    return recorded;
  }

  private async stored(agent?: string): Promise<Stored[]> {
    return agent === undefined
      ? this.db.query('SELECT agent, hash, key_hashes FROM orchestrator.agent_policies')
      : this.db.query('SELECT agent, hash, key_hashes FROM orchestrator.agent_policies WHERE agent = $1', [agent]);
  }

  private async apply(agent: string, now: PolicyFingerprint | undefined): Promise<PolicyChange | null | 'retry'> {
    const [before] = await this.stored(agent);
    if (before?.hash === now?.hash) return null;
    const change: PolicyChange = {
      agent, change: !before ? 'added' : !now ? 'removed' : 'changed',
      changedKeys: changedKeys(before?.key_hashes ?? {}, now?.keys ?? {}), oldHash: before?.hash ?? null, newHash: now?.hash ?? null,
    };
    const won = await this.db.transaction(async (m) => {
      let n: number;
      if (!before) {
        const rows: unknown[] = await m.query(
          'INSERT INTO orchestrator.agent_policies (agent, hash, key_hashes) VALUES ($1, $2, $3::jsonb) ON CONFLICT (agent) DO NOTHING RETURNING 1',
          [agent, now!.hash, JSON.stringify(now!.keys)]);
        n = rows.length;
      } else if (!now) {
        [, n] = await m.query<[unknown, number]>('DELETE FROM orchestrator.agent_policies WHERE agent = $1 AND hash = $2', [agent, before.hash]);
      } else {
        [, n] = await m.query<[unknown, number]>('UPDATE orchestrator.agent_policies SET hash = $3, key_hashes = $4::jsonb, updated_at = now() WHERE agent = $1 AND hash = $2',
          [agent, before.hash, now.hash, JSON.stringify(now.keys)]);
      }
      if (n !== 1) return false;
      await this.audit.record(m, {
        tenant: this.env.KEEL_POLICY_AUDIT_TENANT, actor: { keyId: null, name: `deploy:${this.env.KEEL_INSTANCE}` }, action: 'policy.changed', target: `agent:${agent}`,
        details: { ...change },
      });
      return true;
    });
    return won ? change : 'retry';
  }
}
