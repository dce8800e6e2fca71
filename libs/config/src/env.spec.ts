import { z } from 'zod';
import { baseEnvSchema, ConfigError, envInt, parseEnv, portSchema, redactUrl } from './env';

describe('parseEnv', () => {
  it('applies defaults when nothing is set', () => {
    const env = parseEnv(baseEnvSchema, {});
    expect(env.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(env.KEEL_MIGRATE_ON_START).toBe(true);
    expect(env.KEEL_AGENTS_DIR).toEqual([]);
  });

  it('names every bad variable and what it got', () => {
    const schema = baseEnvSchema.extend({ PORT: portSchema(8080) });
    try {
      parseEnv(schema, { NATS_URL: 'http://x', PORT: 'eighty', KEEL_MIGRATE_ON_START: 'maybe' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as ConfigError).message;
      expect(msg).toMatch(/NATS_URL: must be a URL with scheme nats:\/\/ or tls:\/\/ \(got "http:\/\/x"\)/);
      expect(msg).toMatch(/PORT: must be a whole number \(got "eighty"\)/);
      expect(msg).toMatch(/KEEL_MIGRATE_ON_START/);
    }
  });

  it('never echoes a secret value', () => {
    const schema = z.object({ OPENAI_API_KEY: z.string().min(10) });
    expect(() => parseEnv(schema, { OPENAI_API_KEY: 'sk-abc' })).toThrow(/OPENAI_API_KEY: .*<redacted>/);
  });

  it('bounds integers', () => {
    expect(() => parseEnv(z.object({ N: envInt(5, 1, 10) }), { N: '11' })).toThrow(/N: /);
    expect(parseEnv(z.object({ N: envInt(5, 1, 10) }), { N: '7' }).N).toBe(7);
  });

  it('splits agent directories on colon or comma', () => {
    expect(parseEnv(baseEnvSchema, { KEEL_AGENTS_DIR: '/a:/b, /c' }).KEEL_AGENTS_DIR).toEqual(['/a', '/b', '/c']);
  });

  it('hides passwords in printed URLs', () => {
    expect(redactUrl('postgres://keel:s3cret@db:5432/keel')).toBe('postgres://keel:***@db:5432/keel');
    expect(redactUrl('postgres://u:p@host:notaport/x')).toBe('<unparseable url>');
  });
});
