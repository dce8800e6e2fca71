import type { z } from 'zod';
import { KeelError } from '@keel/contracts';
import { calculatorTool } from './calculator.tool';
import { httpRequestTool } from './http-request.tool';
import type { HttpRequestToolOptions } from './http-request.tool';
import { noopTool } from './noop.tool';
import { runCodeTool } from './run-code.tool';
import type { RunCodeToolOptions } from './run-code.tool';
import type { Permission, ToolContext, ToolDefinition } from './tool.definition';

/** "arguments.headers.Host", "arguments.items[2]": the path a model can map back to its call. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = 'arguments';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return out;
}

function allowedKeys(schema: z.ZodType): string[] {
  const shape = (schema as { shape?: unknown }).shape;
  return shape && typeof shape === 'object' ? Object.keys(shape) : [];
}

/** One line per problem, each naming the field. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], schema: z.ZodType): string {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(schema);
      const hint = allowed.length ? ` (allowed: ${allowed.join(', ')})` : '';
      for (const key of issue.keys) lines.push(`${fieldPath([...issue.path, key])}: unknown field${hint}`);
      continue;
    }
    lines.push(`${fieldPath(issue.path)}: ${issue.message}`);
  }
  return lines.join('; ');
}

export class ToolRegistry {
  private readonly tools = new Map<string, ToolDefinition>();
  /** Tools whose warmUp has been started: a tool is warmed on its first lookup, not at startup. */
  private readonly warmed = new Set<string>();

  /**
   * `parent`: a registry whose tools this one also offers (an agent's own HTTP tools on top of the
   * shared built-in and MCP tools). A name of the parent cannot be registered again here.
   */
  constructor(tools: readonly ToolDefinition[] = [], private readonly parent?: ToolRegistry) {
    for (const tool of tools) this.register(tool);
  }

  /** A ToolDefinition<A> is held as ToolDefinition<unknown>: parseArgs is what guarantees A. */
  register<A>(tool: ToolDefinition<A>): this {
    if (this.tools.has(tool.name) || this.parent?.get(tool.name)) throw new Error(`tool "${tool.name}" is registered twice`);
    this.tools.set(tool.name, tool);
    return this;
  }

  /** Registers the tool, replacing one of the same name (an MCP server listing its tools again). */
  replace<A>(tool: ToolDefinition<A>): this {
    this.tools.set(tool.name, tool);
    this.warmed.delete(tool.name);
    return this;
  }

  unregister(name: string): boolean {
    this.warmed.delete(name);
    return this.tools.delete(name);
  }

  /** A registry with `tools` on top of this one's. */
  child(tools: readonly ToolDefinition[]): ToolRegistry {
    return new ToolRegistry(tools, this);
  }

  get(name: string): ToolDefinition | undefined {
    const tool = this.tools.get(name);
    if (tool === undefined) return this.parent?.get(name);
    this.warm(tool);
    return tool;
  }

  private warm(tool: ToolDefinition): void {
    if (tool.warmUp === undefined || this.warmed.has(tool.name)) return;
    this.warmed.add(tool.name);
    tool.warmUp();
  }

  list(): ToolDefinition[] {
    return [...(this.parent?.list() ?? []), ...this.tools.values()];
  }

  private require(name: string): ToolDefinition {
    const tool = this.get(name);
    if (!tool) {
      const known = this.list().map((t) => t.name).join(', ') || 'none';
      throw new KeelError('tool_not_allowed', `unknown tool "${name}" (available: ${known})`);
    }
    return tool;
  }

  /** Validates raw model arguments; throws KeelError('validation_failed') naming each bad field. */
  parseArgs(name: string, raw: unknown): unknown {
    const tool = this.require(name);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new KeelError('validation_failed', `arguments: expected a JSON object for tool "${name}"`);
    }
    const parsed = tool.argsSchema.safeParse(raw);
    if (!parsed.success) {
      throw new KeelError('validation_failed', `invalid arguments for ${name}: ${describeIssues(parsed.error.issues, tool.argsSchema)}`, {
        details: parsed.error.issues.map((i) => ({ path: fieldPath(i.path), message: i.message })),
      });
    }
    return parsed.data;
  }

  /** Permission the call needs: GET on http_request is a read, POST a write. */
  permissionFor(name: string, args: unknown): Permission {
    const tool = this.require(name);
    return tool.permissionFor ? tool.permissionFor(args) : tool.permission;
  }

  /**
   * parseArgs, then execute. Anything a tool throws that is not already a
   * KeelError becomes `tool_error`, so the model always gets a readable failure.
   */
  async invoke(name: string, raw: unknown, ctx: ToolContext): Promise<unknown> {
    const tool = this.require(name);
    const args = this.parseArgs(name, raw);
    try {
      return await tool.execute(args, ctx);
    } catch (err) {
      throw KeelError.wrap(err, 'tool_error');
    }
  }
}

export interface BuiltInToolsOptions {
  http?: HttpRequestToolOptions;
  /** Also registers `noop`, a tool that does nothing, for benchmarks and tests (env KEEL_ENABLE_BENCH_TOOLS=true). */
  benchTools?: boolean;
  /** `run_code` sandbox settings (limits, logger); `false` leaves the tool out. */
  runCode?: RunCodeToolOptions | false;
}

export function builtInTools(options: BuiltInToolsOptions = {}): ToolRegistry {
  const tools: ToolDefinition[] = [calculatorTool(), httpRequestTool(options.http)];
  if (options.runCode !== false) tools.push(runCodeTool(options.runCode));
  if (options.benchTools === true) tools.push(noopTool());
  return new ToolRegistry(tools);
}
