import { z } from 'zod';
import { ConfigError } from '@keel/config';
import { OpenAiBatchClient } from '../batch/openai-batch.client';
import { AnthropicProvider } from './anthropic.provider';
import { OpenAiCompatibleProvider } from './openai.provider';
import { ProviderError } from './provider';
import type { ModelProvider, ProviderCall, ProviderResult } from './provider';
import { SCRIPTED_PROVIDER_ID, ScriptedProvider } from './scripted.provider';

export const OPENAI_PROVIDER_ID = 'openai';
export const ANTHROPIC_PROVIDER_ID = 'anthropic';
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';
export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

export type ProviderEnv = Readonly<Record<string, string | undefined>>;

const BUILT_IN_IDS: ReadonlySet<string> = new Set([SCRIPTED_PROVIDER_ID, OPENAI_PROVIDER_ID, ANTHROPIC_PROVIDER_ID]);

const httpUrl = z.string().refine((v) => {
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, { message: 'must be an http:// or https:// URL' });

/** One entry of `KEEL_PROVIDERS`: another server speaking a wire format Keel knows. */
export const DeclaredProviderSchema = z.object({
  // The same alphabet as the provider part of model ids (`CompleteRequestSchema.model`).
  id: z.string().regex(/^[a-z0-9_-]+$/, 'must be lowercase letters, digits, "_" or "-" (it is the provider part of provider/model ids)')
    .refine((id) => !BUILT_IN_IDS.has(id), { message: 'is a built-in provider id; configure it with its own variables (e.g. OPENAI_BASE_URL)' }),
  kind: z.enum(['openai', 'anthropic']),
  baseUrl: httpUrl,
  /** The variable holding the key; omit for servers that need none (a local vLLM). */
  apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
  stream: z.boolean().optional(),
  /** `kind: openai` only: the server also speaks the OpenAI Batch API (files + batches). Off by default (vLLM, Ollama do not). */
  batch: z.boolean().optional(),
}).strict().refine((p) => !(p.batch && p.kind !== 'openai'), { message: 'batch is supported for kind "openai" only (the OpenAI Batch API)', path: ['batch'] });
export type DeclaredProvider = z.infer<typeof DeclaredProviderSchema>;

const DeclaredProvidersSchema = z.array(DeclaredProviderSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((p, i) => {
    if (seen.has(p.id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate provider id "${p.id}"` });
    seen.add(p.id);
  });
});

/** Parses `KEEL_PROVIDERS`; a bad entry is a ConfigError naming the field, e.g. `KEEL_PROVIDERS[0].baseUrl`. */
export function parseDeclaredProviders(raw: string | undefined): DeclaredProvider[] {
  if (raw === undefined || raw.trim() === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new ConfigError([`KEEL_PROVIDERS: must be a JSON array of providers (${err instanceof Error ? err.message : String(err)})`]);
  }
  const parsed = DeclaredProvidersSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((issue) => `KEEL_PROVIDERS${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`));
}

/**
 * The model providers the router serves, from configuration: `scripted`,
 * `openai` (OPENAI_BASE_URL, OPENAI_API_KEY), `anthropic` (ANTHROPIC_BASE_URL,
 * ANTHROPIC_API_KEY) and the entries of `KEEL_PROVIDERS`. Pure: reads only `env`.
 * A provider whose key is missing is still registered, so the error names the
 * variable to set instead of calling the model provider unknown.
 */
export function buildProviders(env: ProviderEnv): Map<string, ModelProvider> {
  const declared = parseDeclaredProviders(env.KEEL_PROVIDERS);
  const problems = ['OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL'].flatMap((name) => {
    const value = nonEmpty(env[name]);
    return value === undefined || httpUrl.safeParse(value).success ? [] : [`${name}: must be an http:// or https:// URL (got ${JSON.stringify(value)})`];
  });
  if (problems.length > 0) throw new ConfigError(problems);
  const providers = new Map<string, ModelProvider>([[SCRIPTED_PROVIDER_ID, new ScriptedProvider()]]);
  for (const spec of configuredProviders(env, declared)) {
    const apiKey = spec.apiKeyEnv === undefined ? undefined : nonEmpty(env[spec.apiKeyEnv]);
    if (spec.apiKeyEnv !== undefined && apiKey === undefined) {
      providers.set(spec.id, new MissingKeyProvider(spec.id, spec.apiKeyEnv));
      continue;
    }
    const options = { id: spec.id, baseUrl: spec.baseUrl, apiKey, stream: spec.stream };
    providers.set(spec.id, spec.kind === 'openai' ? new OpenAiCompatibleProvider(options) : new AnthropicProvider(options));
  }
  return providers;
}

/** The built-in HTTP providers (OpenAI with its Batch API, Anthropic) followed by the declared ones. */
function configuredProviders(env: ProviderEnv, declared: readonly DeclaredProvider[]): DeclaredProvider[] {
  return [
    { id: OPENAI_PROVIDER_ID, kind: 'openai', baseUrl: nonEmpty(env.OPENAI_BASE_URL) ?? DEFAULT_OPENAI_BASE_URL, apiKeyEnv: 'OPENAI_API_KEY', batch: true },
    { id: ANTHROPIC_PROVIDER_ID, kind: 'anthropic', baseUrl: nonEmpty(env.ANTHROPIC_BASE_URL) ?? DEFAULT_ANTHROPIC_BASE_URL, apiKeyEnv: 'ANTHROPIC_API_KEY' },
    ...declared,
  ];
}

/** Stands in for a provider whose API key is not set: every call says which variable to set. */
export class MissingKeyProvider implements ModelProvider {
  constructor(readonly id: string, readonly apiKeyEnv: string) {}

  async call(_input: ProviderCall): Promise<ProviderResult> {
    throw new ProviderError('provider_error', `model provider "${this.id}" has no API key: set ${this.apiKeyEnv} in the router's environment`, {
      retryable: false,
      details: { provider: this.id, missingEnv: this.apiKeyEnv },
    });
  }
}

/**
 * The batch API clients, by provider id: `openai` and each `KEEL_PROVIDERS`
 * entry with `batch: true` whose key is set. Pure: reads only `env`.
 */
export function buildBatchClients(env: ProviderEnv): Map<string, OpenAiBatchClient> {
  const clients = new Map<string, OpenAiBatchClient>();
  for (const spec of configuredProviders(env, parseDeclaredProviders(env.KEEL_PROVIDERS))) {
    if (!spec.batch || spec.kind !== 'openai') continue;
    const apiKey = spec.apiKeyEnv === undefined ? undefined : nonEmpty(env[spec.apiKeyEnv]);
    if (spec.apiKeyEnv !== undefined && apiKey === undefined) continue;
    clients.set(spec.id, new OpenAiBatchClient({ id: spec.id, baseUrl: spec.baseUrl, apiKey }));
  }
  return clients;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
