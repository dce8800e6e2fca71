import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { parametersOf } from './tool.definition';
import type { ToolDefinition } from './tool.definition';
import { ToolRegistry } from './tool.registry';

const Schema = z.strictObject({});
const tool = (name: string, source: ToolDefinition['source'] = 'builtin', description = name): ToolDefinition => ({
  name, description, argsSchema: Schema, parameters: parametersOf(Schema), permission: 'read', defaultRisk: 'auto', idempotency: 'pure', source,
  execute: async () => name,
});

describe('ToolRegistry: agent scopes and dynamic tools', () => {
  it('a child offers its own tools over the parent\'s, which stay shared', () => {
    const shared = new ToolRegistry([tool('calculator')]);
    const a = shared.child([tool('weather', 'http')]);
    const b = shared.child([tool('weather', 'http', 'another weather')]);
    expect(a.list().map((t) => t.name)).toEqual(['calculator', 'weather']);
    expect(a.get('calculator')).toBe(shared.get('calculator'));
    expect(b.get('weather')?.description).toBe('another weather');
    expect(shared.get('weather')).toBeUndefined();
  });

  it('a child cannot shadow a parent\'s tool', () => {
    expect(() => new ToolRegistry([tool('calculator')]).child([tool('calculator', 'http')])).toThrow(/registered twice/);
  });

  it('sees tools registered in the parent later (MCP servers connect after agents load)', () => {
    const shared = new ToolRegistry();
    const a = shared.child([]);
    shared.replace(tool('mcp_s_x', 'mcp'));
    expect(a.get('mcp_s_x')?.source).toBe('mcp');
    shared.replace(tool('mcp_s_x', 'mcp', 'listed again'));
    expect(a.get('mcp_s_x')?.description).toBe('listed again');
    expect(shared.unregister('mcp_s_x')).toBe(true);
    expect(a.get('mcp_s_x')).toBeUndefined();
    expect(() => a.parseArgs('mcp_s_x', {})).toThrow(/unknown tool "mcp_s_x" \(available: none\)/);
  });
});
