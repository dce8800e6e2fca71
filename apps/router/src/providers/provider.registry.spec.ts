import { ConfigError } from '@keel/config';
import { KeelError } from '@keel/contracts';
import { AnthropicProvider } from './anthropic.provider';
import { OpenAiCompatibleProvider } from './openai.provider';
import { buildBatchClients, buildProviders, MissingKeyProvider, parseDeclaredProviders } from './provider.registry';
import type { ProviderCall } from './provider';
import { ScriptedProvider } from './scripted.provider';
import { FakeOpenAiServer } from '@keel/testing';

const call: ProviderCall = { model: 'm', messages: [{ role: 'user', content: 'hi' }], tools: [], signal: new AbortController().signal, attempt: 1 };

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('buildProviders', () => {
  it('registers scripted, openai and anthropic from the keys', () => {
    const providers = buildProviders({ OPENAI_API_KEY: 'sk', ANTHROPIC_API_KEY: 'ak' });
    expect([...providers.keys()].sort()).toEqual(['anthropic', 'openai', 'scripted']);
    expect(providers.get('scripted')).toBeInstanceOf(ScriptedProvider);
    expect(providers.get('openai')).toBeInstanceOf(OpenAiCompatibleProvider);
    expect(providers.get('anthropic')).toBeInstanceOf(AnthropicProvider);
    for (const [id, provider] of providers) expect(provider.id).toBe(id);
  });

  it.each([['openai', 'OPENAI_API_KEY'], ['anthropic', 'ANTHROPIC_API_KEY']])(
    'keeps %s registered without a key, failing each call with the variable to set',
    async (id, variable) => {
      const provider = buildProviders({ OPENAI_API_KEY: '  ' }).get(id);
      expect(provider).toBeInstanceOf(MissingKeyProvider);
      let thrown: unknown;
      try {
        await provider?.call(call);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(KeelError);
      expect(thrown).toMatchObject({ code: 'provider_error', retryable: false });
      expect((thrown as Error).message).toContain(`set ${variable}`);
    },
  );

  it('uses OPENAI_BASE_URL and sends the key', async () => {
    const server = await new FakeOpenAiServer().start();
    try {
      server.enqueue({ kind: 'ok', content: 'hi' });
      const provider = buildProviders({ OPENAI_BASE_URL: server.baseUrl, OPENAI_API_KEY: 'sk-env' }).get('openai');
      expect((await provider?.call(call))?.content).toBe('hi');
      expect(server.requests[0].headers.authorization).toBe('Bearer sk-env');
    } finally {
      await server.close();
    }
  });

  it('adds declared OpenAI-compatible providers, keyed from their own variable', async () => {
    const server = await new FakeOpenAiServer().start();
    try {
      server.enqueue({ kind: 'ok', content: 'from vllm' }, { kind: 'ok', content: 'from local' });
      const providers = buildProviders({
        KEEL_PROVIDERS: JSON.stringify([
          { id: 'vllm', kind: 'openai', baseUrl: server.baseUrl, apiKeyEnv: 'VLLM_API_KEY' },
          { id: 'local', kind: 'openai', baseUrl: server.baseUrl, stream: false },
          { id: 'nokey', kind: 'openai', baseUrl: server.baseUrl, apiKeyEnv: 'NOKEY_API_KEY' },
        ]),
        VLLM_API_KEY: 'vk',
      });
      expect((await providers.get('vllm')?.call(call))?.content).toBe('from vllm');
      expect(server.requests[0].headers.authorization).toBe('Bearer vk');
      expect((await providers.get('local')?.call(call))?.content).toBe('from local');
      expect(server.requests[1].headers.authorization).toBeUndefined();
      expect(server.requests[1].body).not.toHaveProperty('stream');
      await expect(providers.get('nokey')?.call(call)).rejects.toThrow('set NOKEY_API_KEY');
    } finally {
      await server.close();
    }
  });

  it('rejects a bad base URL for a built-in provider', () => {
    expect(configError(() => buildProviders({ OPENAI_BASE_URL: 'api.openai.com/v1' })).problems)
      .toEqual(['OPENAI_BASE_URL: must be an http:// or https:// URL (got "api.openai.com/v1")']);
  });
});

describe('buildBatchClients', () => {
  it('offers the Batch API for openai (when keyed) and for declared providers that opt in', () => {
    const env = {
      OPENAI_API_KEY: 'k', VLLM_KEY: 'v',
      KEEL_PROVIDERS: JSON.stringify([
        { id: 'azure', kind: 'openai', baseUrl: 'https://a.example/v1', batch: true },
        { id: 'vllm', kind: 'openai', baseUrl: 'http://vllm:8000/v1', apiKeyEnv: 'VLLM_KEY' },
      ]),
    };
    expect([...buildBatchClients(env).keys()].sort()).toEqual(['azure', 'openai']);
    expect([...buildBatchClients({}).keys()]).toEqual([]);
  });

  it('refuses batch on an Anthropic-format provider', () => {
    const raw = JSON.stringify([{ id: 'claude', kind: 'anthropic', baseUrl: 'https://c.example', batch: true }]);
    expect(configError(() => parseDeclaredProviders(raw)).problems[0]).toMatch(/KEEL_PROVIDERS\[0\]\.batch: batch is supported for kind "openai" only/);
  });
});

describe('parseDeclaredProviders (KEEL_PROVIDERS)', () => {
  it('accepts nothing set, or an empty list', () => {
    expect(parseDeclaredProviders(undefined)).toEqual([]);
    expect(parseDeclaredProviders('[]')).toEqual([]);
  });

  it('says when it is not JSON', () => {
    expect(configError(() => parseDeclaredProviders('[{id: vllm}]')).problems[0]).toMatch(/^KEEL_PROVIDERS: must be a JSON array/);
  });

  it.each([
    [[{ id: 'vllm', kind: 'openai', baseUrl: 'not a url' }], 'KEEL_PROVIDERS[0].baseUrl: must be an http:// or https:// URL'],
    [[{ id: 'vllm', kind: 'grpc', baseUrl: 'http://h' }], 'KEEL_PROVIDERS[0].kind:'],
    [[{ id: 'My vLLM', kind: 'openai', baseUrl: 'http://h' }], 'KEEL_PROVIDERS[0].id: must be lowercase'],
    [[{ id: 'openai', kind: 'openai', baseUrl: 'http://h' }], 'KEEL_PROVIDERS[0].id: is a built-in provider id'],
    [[{ id: 'a', kind: 'openai', baseUrl: 'http://h' }, { id: 'a', kind: 'openai', baseUrl: 'http://i' }], 'KEEL_PROVIDERS[1].id: duplicate provider id "a"'],
    [[{ id: 'a', kind: 'openai', baseUrl: 'http://h', apiKeyEnv: 'not-a-var' }], 'KEEL_PROVIDERS[0].apiKeyEnv: must be an environment variable name'],
    [[{ id: 'a', kind: 'openai', baseUrl: 'http://h', apiKey: 'inline' }], 'KEEL_PROVIDERS[0]: Unrecognized key: "apiKey"'],
    [{ id: 'a' }, 'KEEL_PROVIDERS: '],
  ])('names the bad field: %j', (value, expected) => {
    const err = configError(() => parseDeclaredProviders(JSON.stringify(value)));
    expect(err.problems.join('\n')).toContain(expected);
    expect(err.message).toContain(expected);
  });
});
