import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { KeelError } from '@keel/contracts';
import { parametersOf } from './tool.definition';
import type { ToolContext, ToolDefinition } from './tool.definition';
import { ToolRegistry, builtInTools } from './tool.registry';

function ctx(): ToolContext {
  return { idempotencyKey: 'k', allow: [], timeoutMs: 1_000, signal: new AbortController().signal };
}

function validationError(registry: ToolRegistry, name: string, raw: unknown): KeelError {
  try {
    registry.parseArgs(name, raw);
  } catch (err) {
    if (err instanceof KeelError) return err;
    throw err;
  }
  throw new Error('expected parseArgs to throw');
}

const registry = builtInTools();

describe('builtInTools', () => {
  it('registers calculator, http_request and run_code', () => {
    // list(), not get(): get() warms a tool, and run_code's warm-up probes bubblewrap (I/O).
    expect(registry.list().map((t) => t.name)).toEqual(['calculator', 'http_request', 'run_code']);
    expect(registry.get('calculator')?.name).toBe('calculator');
    expect(builtInTools({ runCode: false }).list().map((t) => t.name)).toEqual(['calculator', 'http_request']);
  });

  it('derives JSON Schema parameters that forbid extra keys', () => {
    for (const tool of registry.list()) {
      expect(tool.parameters).toMatchObject({ type: 'object', additionalProperties: false });
      expect(tool.parameters).not.toHaveProperty('$schema');
      expect(tool.description.length).toBeGreaterThan(20);
    }
    expect(registry.get('http_request')?.parameters).toMatchObject({
      required: ['method', 'url'],
      properties: { method: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] }, url: { type: 'string', format: 'uri' } },
    });
  });
});

describe('ToolRegistry.parseArgs', () => {
  it('returns validated arguments', () => {
    expect(registry.parseArgs('http_request', { method: 'GET', url: 'https://api.example.com/x' }))
      .toEqual({ method: 'GET', url: 'https://api.example.com/x' });
    expect(registry.parseArgs('calculator', { expression: '1+1' })).toEqual({ expression: '1+1' });
  });

  it.each<[unknown, string]>([
    [{ method: 'GET', url: 'not a url' }, 'arguments.url: Invalid URL'],
    [{ method: 'GET', url: 'ftp://files.example.com/x' }, 'arguments.url: only http and https URLs are allowed'],
    [{ method: 'GET', url: 'https://user:pw@api.example.com/' }, 'arguments.url: credentials in the URL are not allowed'],
    [{ method: 'get', url: 'https://a.com/' }, 'arguments.method: Invalid option'],
    [{ url: 'https://a.com/' }, 'arguments.method:'],
    [{ method: 'GET', url: 'https://a.com/', body: 'x' }, 'arguments.body: GET requests cannot have a body'],
    [{ method: 'HEAD', url: 'https://a.com/', body: { a: 1 } }, 'arguments.body: HEAD requests cannot have a body'],
    [{ method: 'POST', url: 'https://a.com/', body: 42 }, 'arguments.body:'],
    [{ method: 'POST', url: 'https://a.com/', body: 'x'.repeat(1024 * 1024 + 1) }, 'arguments.body: body is larger than'],
    [{ method: 'GET', url: 'https://a.com/', headers: { Host: 'evil.com' } }, 'arguments.headers.Host: this header is set by the runtime'],
    [{ method: 'GET', url: 'https://a.com/', headers: { 'Idempotency-Key': 'x' } }, 'arguments.headers.Idempotency-Key: this header is set by the runtime'],
    [{ method: 'GET', url: 'https://a.com/', headers: { 'Bad Name': 'x' } }, 'arguments.headers.Bad Name: not a valid HTTP header name'],
    [{ method: 'GET', url: 'https://a.com/', headers: { 'X-A': 'a\r\nInjected: 1' } }, 'arguments.headers.X-A: header values cannot contain line breaks'],
    [{ method: 'GET', url: 'https://a.com/', headers: { 'X-A': 1 } }, 'arguments.headers.X-A: Invalid input: expected string'],
    [{ method: 'GET', url: 'https://a.com/', timeout: 5 }, 'arguments.timeout: unknown field (allowed: method, url, headers, body)'],
  ])('rejects %j with "%s"', (raw, message) => {
    const err = validationError(registry, 'http_request', raw);
    expect(err.code).toBe('validation_failed');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(message);
  });

  it('lists every problem, with details per field', () => {
    const err = validationError(registry, 'http_request', { method: 'FETCH', url: 'nope', extra: 1 });
    expect(err.message).toContain('arguments.method');
    expect(err.message).toContain('arguments.url');
    expect(err.message).toContain('arguments.extra: unknown field');
    expect(Array.isArray(err.details)).toBe(true);
  });

  it('rejects arguments that are not an object', () => {
    for (const raw of [null, 'x', [1], 3]) {
      const err = validationError(registry, 'calculator', raw);
      expect(err.code).toBe('validation_failed');
      expect(err.message).toContain('arguments: expected a JSON object');
    }
  });

  it('rejects an unknown tool, listing the ones there are', () => {
    const err = validationError(registry, 'rm_rf', {});
    expect(err.code).toBe('tool_not_allowed');
    expect(err.message).toContain('available: calculator, http_request');
  });
});

describe('ToolRegistry', () => {
  const EchoSchema = z.strictObject({ text: z.string() });
  const failing: ToolDefinition<z.infer<typeof EchoSchema>> = {
    name: 'flaky',
    description: 'throws a plain Error',
    argsSchema: EchoSchema,
    parameters: parametersOf(EchoSchema),
    permission: 'read',
    defaultRisk: 'auto',
    idempotency: 'pure',
    async execute(args) {
      if (args.text === 'boom') throw new Error('disk on fire');
      return { echoed: args.text };
    },
  };

  it('refuses duplicate names', () => {
    expect(() => new ToolRegistry([failing, failing])).toThrow(/registered twice/);
  });

  it('invoke validates, runs, and turns stray errors into tool_error', async () => {
    const reg = new ToolRegistry([failing]);
    await expect(reg.invoke('flaky', { text: 'hi' }, ctx())).resolves.toEqual({ echoed: 'hi' });
    await expect(reg.invoke('flaky', { text: 'boom' }, ctx())).rejects.toMatchObject({ code: 'tool_error', message: 'disk on fire' });
    await expect(reg.invoke('flaky', { text: 1 }, ctx())).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('reports the permission a call needs', () => {
    expect(registry.permissionFor('http_request', { method: 'GET', url: 'https://a.com/' })).toBe('read');
    expect(registry.permissionFor('http_request', { method: 'POST', url: 'https://a.com/' })).toBe('write');
    expect(registry.permissionFor('calculator', { expression: '1' })).toBe('read');
  });

  it('invoke runs the calculator end to end', async () => {
    await expect(registry.invoke('calculator', { expression: '6 * 7' }, ctx())).resolves.toEqual({ result: 42 });
  });
});
