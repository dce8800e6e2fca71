import { describe, expect, it, jest } from '@jest/globals';
import { KeelError } from '@keel/contracts';
import { noopTool } from './noop.tool';
import type { ToolContext, ToolDefinition } from './tool.definition';
import { ToolRegistry, builtInTools } from './tool.registry';

function ctx(): ToolContext {
  return { idempotencyKey: 'k', allow: [], timeoutMs: 1_000, signal: new AbortController().signal };
}

describe('noop tool', () => {
  it('is registered only when bench tools are asked for', () => {
    expect(builtInTools().get('noop')).toBeUndefined();
    expect(builtInTools({ benchTools: false }).list().map((t) => t.name)).toEqual(['calculator', 'http_request', 'run_code']);
    expect(builtInTools({ benchTools: true }).list().map((t) => t.name)).toEqual(['calculator', 'http_request', 'run_code', 'noop']);
  });

  it('declares a pure, read-only, auto-approved tool meant for benchmarks', () => {
    const tool = noopTool();
    expect(tool).toMatchObject({ name: 'noop', permission: 'read', defaultRisk: 'auto', idempotency: 'pure' });
    expect(tool.description).toMatch(/benchmarks and tests/);
    expect(tool.parameters).toMatchObject({ type: 'object', properties: { echo: { type: 'string' } } });
    expect(tool.parameters.additionalProperties).not.toBe(false);
    expect(tool.parameters).not.toHaveProperty('required');
  });

  it('returns ok with the echo, and validates its arguments', async () => {
    const registry = new ToolRegistry([noopTool()]);
    await expect(registry.invoke('noop', {}, ctx())).resolves.toEqual({ ok: true });
    await expect(registry.invoke('noop', { echo: 'hi' }, ctx())).resolves.toEqual({ ok: true, echo: 'hi' });
    expect(() => registry.parseArgs('noop', { echo: 3 })).toThrow(KeelError);
    // Other arguments are ignored, so noop can stand in as any tool's alternate.
    await expect(registry.invoke('noop', { expression: '1/0' }, ctx())).resolves.toEqual({ ok: true });
  });
});

describe('tool warm-up', () => {
  it('starts a tool\'s warm-up once, at its first lookup', () => {
    const warmUp = jest.fn<() => void>();
    const tool: ToolDefinition = { ...noopTool(), name: 'warm', warmUp };
    const registry = new ToolRegistry([tool]);
    expect(warmUp).not.toHaveBeenCalled();
    registry.get('warm');
    registry.get('warm');
    registry.parseArgs('warm', {});
    expect(warmUp).toHaveBeenCalledTimes(1);
  });
});
