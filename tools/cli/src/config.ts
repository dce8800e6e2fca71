/** The CLI's settings, from the environment only (a dev tool: no config files). */
export interface CliConfig {
  url: string;
  apiKey: string;
  natsUrl: string;
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';
export const DEV_API_KEY = 'keel-dev-key';
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

export function loadConfig(env: Record<string, string | undefined>): CliConfig {
  const pick = (...vs: (string | undefined)[]): string | undefined => vs.find((v) => v !== undefined && v !== '');
  return {
    url: (pick(env.KEEL_URL) ?? DEFAULT_URL).replace(/\/+$/, ''),
    // The launcher seeds KEEL_BOOTSTRAP_API_KEY (or the dev key), so the same shell just works.
    apiKey: pick(env.KEEL_API_KEY, env.KEEL_BOOTSTRAP_API_KEY) ?? DEV_API_KEY,
    natsUrl: pick(env.NATS_URL) ?? DEFAULT_NATS_URL,
  };
}
