import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AgentSchema } from '@keel/contracts';
import type { Agent } from '@keel/contracts';

/**
 * Loads agent definitions from `agents/*.yaml` and every directory in
 * KEEL_AGENTS_DIR (later directories override earlier ones by name, so a
 * ConfigMap mount can replace a built-in agent). A malformed file stops the
 * service with the file and the field named: a half-loaded agent set would
 * fail tasks at run time instead.
 */
export class AgentLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export function loadAgents(dirs: string[]): Map<string, Agent> {
  const agents = new Map<string, Agent>();
  for (const dir of dirs) {
    const abs = resolve(dir);
    let entries: string[];
    try {
      if (!statSync(abs).isDirectory()) throw new AgentLoadError(`agents directory ${abs} is not a directory`);
      entries = readdirSync(abs).filter((f) => /\.ya?ml$/.test(f)).sort();
    } catch (err) {
      if (err instanceof AgentLoadError) throw err;
      throw new AgentLoadError(`cannot read agents directory ${abs}: ${(err as Error).message}`);
    }
    for (const file of entries) {
      const path = join(abs, file);
      const agent = parseAgentFile(path, readFileSync(path, 'utf8'));
      agents.set(agent.name, agent);
    }
  }
  return agents;
}

export function parseAgentFile(path: string, text: string): Agent {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new AgentLoadError(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  const parsed = AgentSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AgentLoadError(`${path}: invalid agent definition: ${problems}`);
  }
  return parsed.data;
}
