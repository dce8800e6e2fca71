import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentToolSchema, KeelError } from '@keel/contracts';
import { declaredHttpTool, expandUrlTemplate, methodPermission, parseUrlTemplate } from './declared-http.tool';
import type { HttpResponseResult } from './http-request.tool';
import type { ToolContext } from './tool.definition';
import { ToolRegistry } from './tool.registry';

const entry = (raw: Record<string, unknown>) => AgentToolSchema.parse(raw);
const ctx = (): ToolContext => ({ idempotencyKey: 'task:1:0', allow: [], timeoutMs: 5_000, signal: new AbortController().signal });

function validationMessage(registry: ToolRegistry, name: string, raw: unknown): string {
  try {
    registry.parseArgs(name, raw);
  } catch (err) {
    if (err instanceof KeelError && err.code === 'validation_failed') return err.message;
    throw err;
  }
  throw new Error('expected validation_failed');
}

describe('URL templates', () => {
  const t = parseUrlTemplate('https://api.example.com/v1/cities/{city}/weather?units={units}&lang=en');

  it('finds the placeholders and where they are', () => {
    expect(t.placeholders).toEqual(['city', 'units']);
    expect(t.host).toBe('api.example.com');
    expect(t.pieces.filter((p) => 'name' in p)).toEqual([{ name: 'city', inQuery: false }, { name: 'units', inQuery: true }]);
    expect(parseUrlTemplate('http://127.0.0.1:8080/x').host).toBe('127.0.0.1:8080');
  });

  it('encodes each value as one value: no way into the host, another path segment or another query parameter', () => {
    const expand = (args: Record<string, unknown>) => expandUrlTemplate(t, args);
    expect(expand({ city: 'São Paulo', units: 'metric' })).toEqual({ url: 'https://api.example.com/v1/cities/S%C3%A3o%20Paulo/weather?units=metric&lang=en' });
    expect(expand({ city: '../../admin', units: 'x' })).toEqual({ url: 'https://api.example.com/v1/cities/..%2F..%2Fadmin/weather?units=x&lang=en' });
    expect(expand({ city: 'a?b#c', units: 'metric&lang=de&admin=1' })).toEqual({ url: 'https://api.example.com/v1/cities/a%3Fb%23c/weather?units=metric%26lang%3Dde%26admin%3D1&lang=en' });
    expect(expand({ city: '@evil.com', units: 1 })).toEqual({ url: 'https://api.example.com/v1/cities/%40evil.com/weather?units=1&lang=en' });
    const url = new URL((expand({ city: 'x/../../y', units: 'z' }) as { url: string }).url);
    expect(url.host).toBe('api.example.com');
    expect(url.pathname).toBe('/v1/cities/x%2F..%2F..%2Fy/weather');
  });

  it('refuses values that would change the path, or are not scalars', () => {
    const problems = (args: Record<string, unknown>) => (expandUrlTemplate(t, args) as { problems: { name: string; message: string }[] }).problems;
    expect(problems({ city: '..', units: 'x' })).toEqual([{ name: 'city', message: 'cannot be "." or ".." (it fills a path segment)' }]);
    expect(problems({ city: '.', units: 'x' })[0].message).toMatch(/cannot be "\."/);
    expect(problems({ city: '', units: 'x' })).toEqual([{ name: 'city', message: 'must not be empty (it fills a path segment)' }]);
    expect(problems({ city: { a: 1 }, units: ['x'] })).toEqual([
      { name: 'city', message: 'must be a string, number or boolean (it fills the URL)' },
      { name: 'units', message: 'must be a string, number or boolean (it fills the URL)' },
    ]);
    const pair = parseUrlTemplate('https://a.example/{a}{b}/x');
    expect(expandUrlTemplate(pair, { a: '.', b: '.' })).toMatchObject({ problems: [{ name: 'a' }, { name: 'b' }] });
    expect(expandUrlTemplate(pair, { a: 'v1', b: '.json' })).toEqual({ url: 'https://a.example/v1.json/x' });
    // In the query an empty value or dots are just a value.
    expect(expandUrlTemplate(t, { city: 'x', units: '' })).toEqual({ url: 'https://api.example.com/v1/cities/x/weather?units=&lang=en' });
  });

  it.each([
    ['https://{tenant}.example.com/x', /host or port/],
    ['https://api.example.com:{port}/x', /host or port/],
    ['ftp://api.example.com/x', /absolute http/],
    ['https://user:pw@api.example.com/x', /credentials/],
    ['https://api.example.com/x#{frag}', /fragment/],
    ['https://api.example.com/{not-a-name}', /only for \{placeholders\}/],
  ])('refuses the template %s', (url, message) => {
    expect(() => parseUrlTemplate(url)).toThrow(message);
  });

  it('derives the permission from the method', () => {
    expect(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => methodPermission(m as never)))
      .toEqual(['read', 'read', 'read', 'write', 'write', 'write', 'destructive']);
  });
});

describe('HTTP tools declared in an agent file', () => {
  let server: Server;
  let base: string;
  const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, url: req.url }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('takes its metadata from the entry: permission and risk from the method unless set, retries for reads only', () => {
    const get = declaredHttpTool(entry({ name: 'weather', http: { url: 'https://api.example.com/w?city={city}' } }));
    expect(get).toMatchObject({ name: 'weather', permission: 'read', defaultRisk: 'auto', idempotency: 'idempotent_by_key', source: 'http', description: 'GET https://api.example.com/w?city={city}' });
    expect(get.retry).toEqual({ attempts: 2, backoffMs: 200 });
    expect(get.parameters).toEqual({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false });
    const del = declaredHttpTool(entry({ name: 'drop_city', http: { method: 'DELETE', url: 'https://api.example.com/c/{id}' } }));
    expect(del).toMatchObject({ permission: 'destructive', defaultRisk: 'approve' });
    expect(del.retry).toBeUndefined();
    const post = declaredHttpTool(entry({ name: 'note', http: { method: 'POST', url: 'https://api.example.com/n' }, permission: 'read', risk: 'review', description: 'Adds a note.' }));
    expect(post).toMatchObject({ permission: 'read', defaultRisk: 'review', description: 'Adds a note.' });
  });

  it.each([
    [{ name: 'w', http: { url: 'https://a.example/{city}' }, parameters: { type: 'object', properties: { city: { type: 'string' } } } }, /placeholder \{city\} must be a required property/],
    [{ name: 'w', http: { url: 'https://a.example/x', headers: { Host: 'evil.example' } } }, /http\.headers\.Host: this header is set by the runtime/],
    [{ name: 'w', http: { url: 'https://a.example/x' }, parameters: { type: 'string' } }, /type object/],
    [{ name: 'w', http: { url: 'https://a.example/x' }, parameters: { type: 'object', properties: { a: { type: 'nonsense' } } } }, /not a usable JSON Schema/],
  ])('refuses a bad declaration %#', (raw, message) => {
    expect(() => declaredHttpTool(entry(raw))).toThrow(message);
  });

  it('validates arguments against its JSON Schema, one line per field, before anything is sent', () => {
    const tool = declaredHttpTool(entry({
      name: 'weather', http: { url: 'https://api.example.com/w/{city}' },
      parameters: { type: 'object', properties: { city: { type: 'string', minLength: 2 }, days: { type: 'integer', maximum: 14 }, units: { enum: ['metric', 'imperial'] } }, required: ['city'], additionalProperties: false },
    }));
    const registry = new ToolRegistry([tool]);
    expect(validationMessage(registry, 'weather', { days: 'three', units: 'kelvin', extra: true })).toBe(
      'invalid arguments for weather: arguments.city: required; arguments.extra: unknown field (allowed: city, days, units); ' +
      'arguments.days: must be integer; arguments.units: must be one of "metric", "imperial"',
    );
    expect(validationMessage(registry, 'weather', { city: '..' })).toBe('invalid arguments for weather: arguments.city: cannot be "." or ".." (it fills a path segment)');
    expect(registry.parseArgs('weather', { city: 'Berlin', days: 3 })).toEqual({ city: 'Berlin', days: 3 });
  });

  it('sends GET arguments that are not placeholders as query parameters, with the fixed headers and an Idempotency-Key', async () => {
    const tool = declaredHttpTool(entry({
      name: 'weather', http: { url: `${base}/weather/{city}?v=1`, headers: { Accept: 'application/json', 'X-Api-Key': 'k1' } },
      parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
    }));
    const res = await tool.execute({ city: 'New York/NY', days: 3 }, ctx()) as HttpResponseResult;
    expect(res.status).toBe(200);
    const req = seen.at(-1)!;
    expect(req).toMatchObject({ method: 'GET', url: '/weather/New%20York%2FNY?v=1&days=3', body: '' });
    expect(req.headers).toMatchObject({ accept: 'application/json', 'x-api-key': 'k1', 'idempotency-key': 'task:1:0' });
  });

  it('sends POST arguments that are not placeholders as a JSON body', async () => {
    const tool = declaredHttpTool(entry({
      name: 'add_note', http: { method: 'POST', url: `${base}/notes/{id}` },
      parameters: { type: 'object', properties: { id: { type: 'integer' }, text: { type: 'string' } }, required: ['id', 'text'] },
    }));
    await tool.execute({ id: 7, text: 'hi' }, ctx());
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/notes/7', body: '{"text":"hi"}' });
  });

  it('reaches only the hosts it is allowed: its own by default, the agent\'s allow list when given', async () => {
    const own = declaredHttpTool(entry({ name: 'own', http: { url: `${base}/x` } }));
    await expect(own.execute({}, ctx())).resolves.toMatchObject({ status: 200 });
    const elsewhere = declaredHttpTool(entry({ name: 'elsewhere', http: { url: `${base}/x` }, allow: ['api.example.com'] }));
    await expect(elsewhere.execute({}, ctx())).rejects.toMatchObject({ code: 'egress_denied' });
  });

  it('names itself in network errors', async () => {
    const closed = declaredHttpTool(entry({ name: 'gone', http: { url: 'http://127.0.0.1:1/x' } }));
    await expect(closed.execute({}, ctx())).rejects.toMatchObject({ code: 'tool_error', retryable: true, message: expect.stringMatching(/^gone: connection refused/) });
  });
});
