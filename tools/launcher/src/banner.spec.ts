import { apiKeyNotice, bannerText, chooseApiKey, DEV_API_KEY, demoSummary } from './banner';
import { planReplicas, SERVICES } from './services';

describe('banner and demo texts', () => {
  it('uses the dev key, loudly, only when KEEL_BOOTSTRAP_API_KEY is unset', () => {
    expect(chooseApiKey({})).toEqual({ value: DEV_API_KEY, dev: true });
    expect(chooseApiKey({ KEEL_BOOTSTRAP_API_KEY: '' })).toEqual({ value: DEV_API_KEY, dev: true });
    expect(chooseApiKey({ KEEL_BOOTSTRAP_API_KEY: 's3cret' })).toEqual({ value: 's3cret', dev: false });
    expect(apiKeyNotice(chooseApiKey({}))).toMatch(/DEVELOPMENT-ONLY key "keel-dev-key"/);
    expect(apiKeyNotice(chooseApiKey({ KEEL_BOOTSTRAP_API_KEY: 's3cret' }))).not.toContain('s3cret');
  });

  it('lists every replica URL, the key hint and three example commands', () => {
    const replicas = planReplicas({ portBase: 8080, only: [...SERVICES], scale: { orchestrator: 2 } });
    const text = bannerText({ replicas, apiKey: chooseApiKey({}), colour: false });
    expect(text).toContain('orchestrator   http://127.0.0.1:8080  http://127.0.0.1:8090');
    expect(text).toContain('tool-executor  http://127.0.0.1:8084');
    expect(text).toContain('API key: keel-dev-key');
    expect(text).toContain('    npx keel submit "What is 2+2?" --agent demo --wait');
    expect(text).toContain('    npx keel events <id>');
    expect(text).toContain('    npx keel dead-letters');
  });

  it('passes a non-default orchestrator URL on to the example commands, and never prints a real key', () => {
    const replicas = planReplicas({ portBase: 18080, only: [...SERVICES], scale: {} });
    const text = bannerText({ replicas, apiKey: chooseApiKey({ KEEL_BOOTSTRAP_API_KEY: 's3cret' }), colour: false });
    expect(text).toContain('KEEL_URL=http://127.0.0.1:18080 npx keel submit');
    expect(text).not.toContain('s3cret');
  });

  it('summarises the demo task', () => {
    const text = demoSummary({
      id: 't1', status: 'succeeded', output: '4', error: null, steps: 2,
      usage: { inputTokens: 10, outputTokens: 3, costUsd: 0.0000125 }, traceId: 'abc',
    }, 1234);
    expect(text.split('\n')).toEqual([
      'demo task t1 succeeded in 1.2 s', '  output:  4', '  steps:   2',
      '  usage:   10 input + 3 output tokens, $0.000013', '  traceId: abc',
    ]);
    expect(demoSummary({ id: 't2', status: 'failed', error: { code: 'step_failed', message: 'no' } }, 0)).toContain('error:   step_failed: no');
  });
});
