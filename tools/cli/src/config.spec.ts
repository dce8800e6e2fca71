import { loadConfig } from './config';

describe('loadConfig', () => {
  it('defaults to the local launcher', () => {
    expect(loadConfig({})).toEqual({ url: 'http://127.0.0.1:8080', apiKey: 'keel-dev-key', natsUrl: 'nats://127.0.0.1:4222' });
  });

  it('prefers KEEL_API_KEY, then KEEL_BOOTSTRAP_API_KEY, and trims a trailing slash off KEEL_URL', () => {
    expect(loadConfig({ KEEL_BOOTSTRAP_API_KEY: 'b' }).apiKey).toBe('b');
    expect(loadConfig({ KEEL_BOOTSTRAP_API_KEY: 'b', KEEL_API_KEY: 'a' }).apiKey).toBe('a');
    expect(loadConfig({ KEEL_API_KEY: '', KEEL_BOOTSTRAP_API_KEY: 'b' }).apiKey).toBe('b');
    expect(loadConfig({ KEEL_URL: 'http://h:1/', NATS_URL: 'nats://n:2' })).toMatchObject({ url: 'http://h:1', natsUrl: 'nats://n:2' });
  });
});
