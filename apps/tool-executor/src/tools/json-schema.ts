import Ajv from 'ajv';
import type { ErrorObject } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { z } from 'zod';

/**
 * Argument validation for tools whose schema is JSON Schema rather than zod: HTTP
 * tools declared in agent files and tools imported from MCP servers. Ajv 8 does the
 * validating; its errors become zod issues, so `ToolRegistry.parseArgs` reports them
 * like any other tool's: `validation_failed`, one line per field.
 */

type AjvError = ErrorObject;
type AjvInstance = Ajv;

let instances: { draft7: AjvInstance; draft2020: AjvInstance } | undefined;

function ajv(dialect: 'draft7' | 'draft2020'): AjvInstance {
  if (!instances) {
    // strict: false, as MCP servers send keywords of their own; verbose for parentSchema (allowed keys in messages).
    const options = { allErrors: true, strict: false, verbose: true, logger: false as const, validateSchema: false };
    instances = { draft7: new Ajv(options), draft2020: new Ajv2020(options) };
    addFormats(instances.draft7);
    addFormats(instances.draft2020);
  }
  return instances[dialect];
}

/** Drafts 4 to 7 by their `$schema`; anything else (2019-09, 2020-12, none) as 2020-12, MCP's default dialect. */
function dialectOf(schema: Record<string, unknown>): 'draft7' | 'draft2020' {
  const declared = typeof schema.$schema === 'string' ? schema.$schema : '';
  return /draft-0[4-7]/.test(declared) ? 'draft7' : 'draft2020';
}

/** "/items/2/name" → ['items', 2, 'name'] */
function pathOf(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((seg) => {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key;
  });
}

function describeError(e: AjvError): { path: (string | number)[]; message: string } {
  const path = pathOf(e.instancePath);
  switch (e.keyword) {
    case 'required':
      return { path: [...path, String(e.params.missingProperty)], message: 'required' };
    case 'additionalProperties': {
      const props: unknown = (e.parentSchema as { properties?: unknown } | undefined)?.properties;
      const allowed = props && typeof props === 'object' ? Object.keys(props) : [];
      return { path: [...path, String(e.params.additionalProperty)], message: `unknown field${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}` };
    }
    case 'enum':
      return { path, message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { path, message: `must be ${JSON.stringify(e.params.allowedValue)}` };
    default:
      return { path, message: e.message ?? `fails ${e.keyword}` };
  }
}

export type JsonSchemaCheck = (args: Record<string, unknown>, issue: (path: (string | number)[], message: string) => void) => void;

/**
 * A zod schema that accepts what `schema` (JSON Schema) accepts, for a tool's `argsSchema`.
 * Throws when the schema itself cannot be compiled. `extra` adds checks JSON Schema cannot
 * express (an HTTP tool's URL placeholders take only strings, numbers and booleans).
 */
export function jsonSchemaArgs(schema: Record<string, unknown>, extra?: JsonSchemaCheck): z.ZodType<Record<string, unknown>> {
  // A top-level $id would be registered in the shared Ajv instance and clash when a server lists the tool again.
  const { $schema: _ignored, $id: _id, ...body } = schema;
  const validate = ajv(dialectOf(schema)).compile(body);
  return z.record(z.string(), z.unknown()).superRefine((args, ctx) => {
    if (!validate(args)) {
      const seen = new Set<string>();
      for (const e of validate.errors ?? []) {
        const { path, message } = describeError(e);
        const key = `${JSON.stringify(path)} ${message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        ctx.addIssue({ code: 'custom', path, message });
      }
      return;
    }
    extra?.(args, (path, message) => ctx.addIssue({ code: 'custom', path, message }));
  });
}

/**
 * The schema as the model should see it: `$schema` dropped (as for built-in tools), and an
 * object schema guaranteed (a tool without one takes an empty object).
 */
export function modelParameters(schema: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!schema) return { type: 'object', properties: {} };
  const { $schema: _drop, ...rest } = schema;
  return rest.type === undefined ? { type: 'object', ...rest } : rest;
}
