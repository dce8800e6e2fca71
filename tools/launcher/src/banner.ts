import type { Replica, ServiceName } from './services';
import { SERVICES } from './services';
import { ansi } from './log-format';

/**
 * The texts the launcher prints once things are up: the ready banner and the
 * demo task's summary. Pure, so they are unit-tested.
 */
export const DEV_API_KEY = 'keel-dev-key';

export interface ApiKeyChoice {
  value: string;
  /** True when KEEL_BOOTSTRAP_API_KEY was unset and the fixed development key is used. */
  dev: boolean;
}

export function chooseApiKey(env: Record<string, string | undefined>): ApiKeyChoice {
  const v = env.KEEL_BOOTSTRAP_API_KEY;
  return v !== undefined && v !== '' ? { value: v, dev: false } : { value: DEV_API_KEY, dev: true };
}

export function apiKeyNotice(key: ApiKeyChoice): string {
  return key.dev
    ? `KEEL_BOOTSTRAP_API_KEY is not set: using the DEVELOPMENT-ONLY key "${DEV_API_KEY}". Never use it outside your machine.`
    : 'Using the API key from KEEL_BOOTSTRAP_API_KEY.';
}

export function localUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

export interface BannerInput {
  replicas: readonly Replica[];
  apiKey: ApiKeyChoice;
  colour: boolean;
}

const EXTRA: Partial<Record<ServiceName, string>> = { approval: 'approval console at /' };

export function bannerText(input: BannerInput): string {
  const b = (s: string) => (input.colour ? `${ansi.bold}${s}${ansi.reset}` : s);
  const rule = '─'.repeat(72);
  const lines = [rule, b(`Keel is ready: ${input.replicas.length} process${input.replicas.length === 1 ? '' : 'es'}`), ''];
  for (const service of SERVICES) {
    const rs = input.replicas.filter((r) => r.service === service);
    if (rs.length === 0) continue;
    const urls = rs.map((r) => localUrl(r.port)).join('  ');
    const extra = EXTRA[service];
    lines.push(`  ${service.padEnd(14)} ${urls}${extra ? `   (${extra})` : ''}`);
  }
  lines.push('');
  lines.push(input.apiKey.dev
    ? `  API key: ${DEV_API_KEY}  (development only; the CLI uses it by default)`
    : '  API key: the value of KEEL_BOOTSTRAP_API_KEY (the CLI reads it, or set KEEL_API_KEY)');
  const orchestrator = input.replicas.find((r) => r.service === 'orchestrator');
  // The CLI defaults to port 8080; anything else must be passed on.
  const env = orchestrator && orchestrator.port !== 8080 ? `KEEL_URL=${localUrl(orchestrator.port)} ` : '';
  lines.push('', '  Try:');
  lines.push(`    ${env}npx keel submit "What is 2+2?" --agent demo --wait`);
  lines.push(`    ${env}npx keel events <id>`);
  lines.push('    npx keel dead-letters');
  lines.push(rule);
  return lines.join('\n');
}

/** The subset of `GET /v1/tasks/{id}` the demo summary shows. */
export interface DemoTask {
  id: string;
  status: string;
  output?: string | null;
  error?: { code: string; message: string } | null;
  steps?: number;
  usage?: { inputTokens: number; outputTokens: number; costUsd: number };
  traceId?: string | null;
}

export function demoSummary(task: DemoTask, elapsedMs: number): string {
  const lines = [`demo task ${task.id} ${task.status} in ${(elapsedMs / 1000).toFixed(1)} s`];
  if (task.output !== undefined && task.output !== null) lines.push(`  output:  ${task.output}`);
  if (task.error) lines.push(`  error:   ${task.error.code}: ${task.error.message}`);
  if (task.steps !== undefined) lines.push(`  steps:   ${task.steps}`);
  if (task.usage) {
    const u = task.usage;
    lines.push(`  usage:   ${u.inputTokens} input + ${u.outputTokens} output tokens, $${u.costUsd.toFixed(6)}`);
  }
  lines.push(`  traceId: ${task.traceId ?? '(none)'}`);
  return lines.join('\n');
}
