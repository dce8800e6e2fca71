import { describe, expect, it } from '@jest/globals';
import { AgentSchema, AgentToolSchema } from './agents';

const problems = (raw: unknown): string[] => {
  const r = AgentToolSchema.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('AgentToolSchema', () => {
  it('still takes a bare name and the existing fields', () => {
    expect(AgentToolSchema.parse('calculator')).toEqual({ name: 'calculator' });
    expect(AgentToolSchema.parse({ name: 'http_request', allow: ['api.example.com'], risk: 'auto', effect: 'read' })).toEqual({ name: 'http_request', allow: ['api.example.com'], risk: 'auto', effect: 'read' });
  });

  it('declares an HTTP tool, with GET by default', () => {
    const t = AgentToolSchema.parse({
      name: 'weather', http: { url: 'https://api.example.com/weather?city={city}', headers: { Accept: 'application/json' } },
      description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      permission: 'read', risk: 'auto', retry: { attempts: 3 }, resultCacheTtlMs: 60_000,
    });
    expect(t).toMatchObject({ name: 'weather', http: { method: 'GET' }, permission: 'read', retry: { attempts: 3, backoffMs: 200 }, resultCacheTtlMs: 60_000 });
  });

  it.each([
    [{ name: 'calculator', http: { url: 'https://a.example/x' } }, 'name: "calculator" is reserved'],
    [{ name: 'mcp_orders_x', http: { url: 'https://a.example/x' } }, 'name: "mcp_orders_x" is reserved'],
    [{ name: 'has space', http: { url: 'https://a.example/x' } }, 'name: an HTTP tool\'s name is 1-64 letters'],
    [{ name: 'w', http: { url: 'https://{host}.example/x' } }, 'http.url: url is an absolute http(s) URL'],
    [{ name: 'w', http: { url: '/relative/{x}' } }, 'http.url: url is an absolute http(s) URL'],
    [{ name: 'calculator', description: 'x' }, 'description: description is only for an HTTP tool declared here'],
    [{ name: 'calculator', parameters: {} }, 'parameters: parameters is only for an HTTP tool declared here'],
    [{ name: 'w', effect: 'read', permission: 'write' }, 'permission: permission "write" contradicts effect "read"'],
    [{ name: 'w', retry: { attempts: 0 } }, 'retry.attempts:'],
  ])('refuses %j', (raw, message) => {
    expect(problems(raw).join('; ')).toContain(message);
  });

  it('refuses an unknown method', () => {
    expect(AgentToolSchema.safeParse({ name: 'w', http: { url: 'https://a.example/x', method: 'TRACE' } }).success).toBe(false);
  });

  it('loads in an agent', () => {
    const agent = AgentSchema.parse({ name: 'a', model: 'scripted/default', tools: ['calculator', { name: 'weather', http: { url: 'https://api.example.com/w/{city}' } }] });
    expect(agent.tools[1]).toEqual({ name: 'weather', http: { method: 'GET', url: 'https://api.example.com/w/{city}' } });
  });
});
