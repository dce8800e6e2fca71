import { KeelError } from '@keel/contracts';
import type { AgentTool, HttpTool } from '@keel/contracts';
import { HttpRequestArgsSchema, httpRequestTool } from './http-request.tool';
import type { HttpMethod, HttpRequestArgs, HttpRequestToolOptions } from './http-request.tool';
import { jsonSchemaArgs, modelParameters } from './json-schema';
import { riskForPermission } from './tool.definition';
import type { Permission, RetryPolicy, ToolDefinition } from './tool.definition';

/**
 * HTTP endpoints declared as tools in an agent file:
 *
 *   tools:
 *     - name: weather
 *       http: {method: GET, url: "https://api.example.com/weather?city={city}"}
 *       description: Current weather for a city.
 *       parameters: {type: object, properties: {city: {type: string}}, required: [city]}
 *
 * A call fills the `{placeholders}` from its arguments, each URL-encoded as one value, and
 * goes through http_request's machinery: egress allowlist and SSRF refusals, size and time
 * limits, Idempotency-Key. The scheme, host and port are the agent file's; arguments reach
 * only the path segment or query value their placeholder stands in.
 */

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const BODY_METHODS: ReadonlySet<HttpMethod> = new Set(['POST', 'PUT', 'PATCH']);
const READ_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Read endpoints are retried once on a retryable failure (connection refused or reset); writes are not, by default. */
const READ_RETRY: RetryPolicy = { attempts: 2, backoffMs: 200 };

type Piece = { literal: string } | { name: string; inQuery: boolean };

export interface UrlTemplate {
  template: string;
  pieces: Piece[];
  /** Placeholder names, in order of first appearance. */
  placeholders: string[];
  /** `host` or `host:port` of the template, the default egress allowlist entry. */
  host: string;
}

export function methodPermission(method: HttpMethod): Permission {
  if (READ_METHODS.has(method)) return 'read';
  return method === 'DELETE' ? 'destructive' : 'write';
}

/** Parses `https://host/path/{a}?q={b}`; throws an Error naming the problem. */
export function parseUrlTemplate(template: string): UrlTemplate {
  const authority = /^(https?):\/\/([^/?#]*)/i.exec(template);
  if (!authority) throw new Error(`url "${template}" is not an absolute http(s) URL`);
  if (/[{}]/.test(authority[2])) throw new Error(`url "${template}": placeholders cannot be in the host or port`);
  if (template.includes('#')) throw new Error(`url "${template}": a #fragment is not allowed`);
  const pieces: Piece[] = [];
  const placeholders: string[] = [];
  const queryAt = template.indexOf('?');
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    pieces.push({ literal: template.slice(last, m.index) });
    pieces.push({ name: m[1], inQuery: queryAt >= 0 && m.index > queryAt });
    if (!placeholders.includes(m[1])) placeholders.push(m[1]);
    last = m.index + m[0].length;
  }
  pieces.push({ literal: template.slice(last) });
  for (const p of pieces) {
    if ('literal' in p && /[{}]/.test(p.literal)) throw new Error(`url "${template}": "{" and "}" are only for {placeholders} (letters, digits and _)`);
  }
  let sample: URL;
  try {
    sample = new URL(template.replace(PLACEHOLDER, 'x'));
  } catch {
    throw new Error(`url "${template}" is not a valid URL`);
  }
  if (sample.username || sample.password) throw new Error(`url "${template}": credentials in the URL are not allowed; send a header instead`);
  return { template, pieces, placeholders, host: sample.host };
}

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * The URL with each placeholder replaced by its argument, percent-encoded as a whole
 * (a "/", "?", "&" or "#" in a value stays inside the value). Returns the problems
 * instead when a value cannot go into the URL.
 */
export function expandUrlTemplate(t: UrlTemplate, args: Record<string, unknown>): { url: string } | { problems: { name: string; message: string }[] } {
  const problems: { name: string; message: string }[] = [];
  let out = '';
  for (const piece of t.pieces) {
    if ('literal' in piece) {
      out += piece.literal;
      continue;
    }
    const value = args[piece.name];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      if (!problems.some((p) => p.name === piece.name)) {
        problems.push({ name: piece.name, message: value === undefined ? 'required (it fills the URL)' : 'must be a string, number or boolean (it fills the URL)' });
      }
      continue;
    }
    const text = String(value);
    if (!piece.inQuery && (text === '' || DOT_SEGMENT.test(text))) {
      problems.push({ name: piece.name, message: text === '' ? 'must not be empty (it fills a path segment)' : 'cannot be "." or ".." (it fills a path segment)' });
      continue;
    }
    out += encodeURIComponent(text);
  }
  if (problems.length) return { problems };
  // Placeholders side by side ("{a}{b}") could still spell a dot segment together.
  const path = out.replace(/^https?:\/\/[^/?#]*/i, '').split('?')[0];
  if (path.split('/').some((seg) => DOT_SEGMENT.test(seg))) {
    return { problems: [{ name: t.placeholders[0], message: 'the URL path would contain a "." or ".." segment' }] };
  }
  return { url: out };
}

function placeholderSchema(t: UrlTemplate): Record<string, unknown> {
  return {
    type: 'object',
    properties: Object.fromEntries(t.placeholders.map((p) => [p, { type: 'string' }])),
    required: t.placeholders,
    additionalProperties: false,
  };
}

export interface DeclaredHttpToolOptions extends HttpRequestToolOptions {
  /** The http_request tool that sends the request (default: a new one with `HttpRequestToolOptions`). */
  http?: ToolDefinition<HttpRequestArgs>;
}

/** The agent-file entry as a tool; throws an Error naming the problem when it cannot be one. */
export function declaredHttpTool(entry: AgentTool, options: DeclaredHttpToolOptions = {}): ToolDefinition<Record<string, unknown>> {
  const spec: HttpTool | undefined = entry.http;
  if (!spec) throw new Error(`tool "${entry.name}" has no http block`);
  const name = entry.name;
  const method = spec.method;
  const template = parseUrlTemplate(spec.url);
  const parameters = modelParameters(entry.parameters ?? placeholderSchema(template));
  if (parameters.type !== 'object') throw new Error(`tool "${name}": parameters must be a JSON Schema of type object`);
  const required = Array.isArray(parameters.required) ? parameters.required : [];
  for (const p of template.placeholders) {
    if (!required.includes(p)) throw new Error(`tool "${name}": the URL placeholder {${p}} must be a required property in parameters`);
  }
  const headers = spec.headers ?? {};
  const checkedHeaders = HttpRequestArgsSchema.safeParse({ method, url: spec.url.replace(PLACEHOLDER, 'x'), headers });
  if (!checkedHeaders.success) {
    throw new Error(`tool "${name}": ${checkedHeaders.error.issues.map((i) => `${['http', ...i.path].join('.')}: ${i.message}`).join('; ')}`);
  }
  let argsSchema;
  try {
    argsSchema = jsonSchemaArgs(parameters, (args, issue) => {
      const expanded = expandUrlTemplate(template, args);
      if ('problems' in expanded) for (const p of expanded.problems) issue([p.name], p.message);
    });
  } catch (err) {
    throw new Error(`tool "${name}": parameters is not a usable JSON Schema: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const http = options.http ?? httpRequestTool(options);
  const permission = entry.permission ?? entry.effect ?? methodPermission(method);
  const allow = entry.allow ?? [template.host];

  async function execute(args: Record<string, unknown>, ctx: Parameters<ToolDefinition['execute']>[1]): Promise<unknown> {
    const expanded = expandUrlTemplate(template, args);
    if ('problems' in expanded) {
      throw new KeelError('validation_failed', expanded.problems.map((p) => `arguments.${p.name}: ${p.message}`).join('; '));
    }
    const url = new URL(expanded.url);
    const rest = Object.entries(args).filter(([k]) => !template.placeholders.includes(k));
    let body: Record<string, unknown> | undefined;
    if (BODY_METHODS.has(method)) {
      if (rest.length) body = Object.fromEntries(rest);
    } else {
      for (const [k, v] of rest) {
        if (v !== undefined && v !== null) url.searchParams.append(k, typeof v === 'string' ? v : JSON.stringify(v));
      }
    }
    const request = HttpRequestArgsSchema.safeParse({ method, url: url.href, ...(Object.keys(headers).length ? { headers } : {}), ...(body ? { body } : {}) });
    if (!request.success) {
      throw new KeelError('validation_failed', `${name}: the request cannot be sent: ${request.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ')}`);
    }
    try {
      return await http.execute(request.data, { ...ctx, allow });
    } catch (err) {
      if (!(err instanceof KeelError)) throw err;
      // http_request's messages name itself; the model called this tool.
      throw new KeelError(err.code, err.message.replace(/^http_request:/, `${name}:`), { retryable: err.retryable, details: err.details, retryAfterMs: err.retryAfterMs, cause: err });
    }
  }

  return {
    name,
    description: entry.description ?? `${method} ${spec.url}`,
    argsSchema,
    parameters,
    permission,
    defaultRisk: entry.risk ?? riskForPermission(permission),
    idempotency: 'idempotent_by_key',
    retry: permission === 'read' ? READ_RETRY : undefined,
    source: 'http',
    execute,
  };
}
