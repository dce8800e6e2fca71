import { createHash } from 'node:crypto';
import { withVariant } from '@keel/contracts';
import type { Agent, Experiment } from '@keel/contracts';

/**
 * A/B variant assignment (docs/experiments.md).
 *
 * Sticky: the variant is a pure function of (tenant, agent, experiment name,
 * unit), where the unit is the task's userId, or, for a task without one, the
 * task id (`assignment: 'task'`: such tasks are independent draws).
 *
 * Stable: weighted rendezvous hashing. Each variant draws u = hash(…, unit,
 * variant) in (0, 1); the unit goes to the variant with the smallest
 * -ln(u) / weight (an exponential race, won by each variant with probability
 * weight / total). Because a variant's draw does not depend on the others:
 * - adding a variant moves only the units the new variant wins (its share,
 *   the least any scheme can move), all of them *to* the new variant;
 * - removing one moves only its own units, spread over the rest by weight;
 * - raising one weight moves units only *to* that variant, lowering it only
 *   away from it, exactly the change in share;
 * - renaming a variant re-draws its units (the name is the hash key), and
 *   renaming the experiment re-draws everyone (a fresh experiment).
 * Cumulative buckets (u in [0,1) against cumulative weights in declared
 * order) move as little when only weights change, but adding a third
 * variant to 50/50 moves half of all units instead of a third, and removing
 * or reordering one shifts everybody after it.
 */
export interface Assignment {
  experiment: string;
  variant: string;
  /** What the assignment is sticky by: the user (every task of the user gets the same variant) or the task alone. */
  assignment: 'user' | 'task';
}

export interface AssignInput {
  tenant: string;
  agent: string;
  userId?: string | null;
  taskId: string;
}

/** A uniform draw in (0, 1) from 53 bits of SHA-256 over the NUL-separated parts. */
export function unitDraw(...parts: string[]): number {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  const hi = h.readUInt32BE(0) >>> 11; // 21 bits
  const lo = h.readUInt32BE(4); // 32 bits
  return (hi * 2 ** 32 + lo + 0.5) / 2 ** 53;
}

/** The variant of `experiment` for one unit (pure; weighted rendezvous hashing). */
export function pickVariant(experiment: Experiment, tenant: string, agent: string, unit: string): string {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const v of experiment.variants) {
    const weight = v.weight ?? 1;
    if (!(weight > 0)) continue;
    const score = -Math.log(unitDraw('keel:experiment:v1', tenant, agent, experiment.name, unit, v.name)) / weight;
    if (score < bestScore) {
      bestScore = score;
      best = v.name;
    }
  }
  // The schema guarantees a positive weight somewhere; the first variant is the safe answer otherwise.
  return best ?? experiment.variants[0].name;
}

/** The assignment of a new task of `agent`, or null when the agent runs no experiment. */
export function assignVariant(agent: Pick<Agent, 'name' | 'experiment'>, t: AssignInput): Assignment | null {
  const experiment = agent.experiment;
  if (!experiment) return null;
  const byUser = typeof t.userId === 'string' && t.userId !== '';
  const unit = byUser ? `user:${t.userId}` : `task:${t.taskId}`;
  return { experiment: experiment.name, variant: pickVariant(experiment, t.tenant, agent.name, unit), assignment: byUser ? 'user' : 'task' };
}

/** The agent as the task's variant runs it (systemPrompt, model, routing); the agent itself outside an experiment. */
export function effectiveAgent(agent: Agent | undefined, variant: string | null | undefined): Agent | undefined {
  return agent ? withVariant(agent, variant) : agent;
}
