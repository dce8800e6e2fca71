import { createHash } from 'node:crypto';
import type { ChatMessage, CompleteRequest, ToolSpec } from '@keel/contracts';

/**
 * Keys of the response cache.
 *
 * - `exactKey`: sha256 of the normalised request (model, messages with
 *   whitespace collapsed and tool-call ids dropped, tool set sorted by name with
 *   a hash of each tool's parameters, sampling params). Two requests that differ
 *   only in spacing or tool order get the same key.
 * - `rawKey`: sha256 of the request exactly as given; tool-calling answers are
 *   cached only under it (their arguments depend on live data, so only a
 *   byte-identical request may reuse them).
 * - `scopeKey`: the privacy boundary. Entries never cross it, exact or semantic.
 *
 * Scoping rule (why): the cache may only answer a request with an answer that
 * was produced from context the requester could already see.
 *   tenant + agent + tool-set hash + partition, where the partition is
 *   - `user:<userId>` when the request names a user: a user's own history and
 *     tool results are theirs, so answers are shared across that user's tasks
 *     and never with another user (even for near-identical text);
 *   - otherwise `task:<taskId>` as soon as the request holds anything beyond
 *     the system prompt (user, assistant or tool messages): without a user id
 *     the task is the only boundary we know that is not wider than one person;
 *   - `shared` only for a request of system messages alone: that is the
 *     agent's own configuration, the same for every user of the agent.
 */
export const CACHE_KEY_VERSION = 'v1';

/** Who is asking; CompleteRequest carries no user id today, so the caller passes it. */
export interface CacheScope {
  tenant: string;
  agent: string;
  userId?: string;
  taskId: string;
}

/** The parts of a model request that decide its answer. */
export interface CacheableRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  /** Sampling and other answer-shaping params (temperature, top_p, max tokens, seed…). */
  params?: Record<string, unknown>;
}

export interface CacheKeys {
  scopeKey: string;
  /** `n:` + sha256 of the normalised request. */
  exactKey: string;
  /** `r:` + sha256 of the request as given (tool-calling answers). */
  rawKey: string;
  toolSetHash: string;
  /** Present when the last message is a user message: what the semantic cache compares. */
  semantic?: {
    /** sha256 of everything but the last user message, plus that message's numbers; semantic matches need it equal. */
    contextHash: string;
    /** The last user message, whitespace-normalised: the text that is embedded. */
    text: string;
  };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Trims and collapses whitespace runs; NFC so composed and decomposed accents compare equal. */
export function normaliseText(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/** JSON with object keys sorted at every level (code-unit order: locale-independent). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const obj = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(obj).filter((k) => obj[k] !== undefined).sort().map((k) => [k, canonical(obj[k])]));
  }
  return v;
}

/** Sorted by name; each tool as its name, normalised description and a hash of its parameters schema. */
export function toolSetHash(tools: readonly ToolSpec[] = []): string {
  const items = tools
    .map((t) => ({ name: t.name, description: normaliseText(t.description), parameters: sha256(canonicalJson(t.parameters)) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sha256(canonicalJson(items));
}

/** Tool-call ids are provider-generated and differ run to run; they never change the answer. */
function normaliseMessage(m: ChatMessage): unknown {
  switch (m.role) {
    case 'system':
    case 'user':
      return { role: m.role, content: normaliseText(m.content) };
    case 'assistant':
      return {
        role: m.role,
        content: m.content === null ? null : normaliseText(m.content),
        toolCalls: (m.toolCalls ?? []).map((c) => ({ name: c.name, arguments: canonical(c.arguments) })),
      };
    case 'tool':
      return { role: m.role, name: m.name, content: normaliseText(m.content) };
  }
}

export function partitionFor(scope: CacheScope, messages: readonly ChatMessage[]): string {
  if (scope.userId !== undefined && scope.userId !== '') return `user:${scope.userId}`;
  const privateContext = messages.some((m) => m.role !== 'system');
  return privateContext ? `task:${scope.taskId}` : 'shared';
}

export function scopeKeyFor(scope: CacheScope, req: CacheableRequest, tsHash = toolSetHash(req.tools)): string {
  // Hashed from a JSON array so no separator inside a tenant or agent name can make two scopes collide.
  return sha256(JSON.stringify([CACHE_KEY_VERSION, scope.tenant, scope.agent, tsHash, partitionFor(scope, req.messages)]));
}

export function cacheKeys(scope: CacheScope, req: CacheableRequest): CacheKeys {
  const tsHash = toolSetHash(req.tools);
  const params = canonical(req.params ?? {});
  const messages = req.messages.map(normaliseMessage);
  const exactKey = `n:${sha256(canonicalJson([CACHE_KEY_VERSION, req.model, params, tsHash, messages]))}`;
  const rawKey = `r:${sha256(JSON.stringify([CACHE_KEY_VERSION, req.model, req.params ?? {}, req.tools ?? [], req.messages]))}`;
  const keys: CacheKeys = { scopeKey: scopeKeyFor(scope, req, tsHash), exactKey, rawKey, toolSetHash: tsHash };
  const last = req.messages.at(-1);
  if (last?.role === 'user') {
    const text = normaliseText(last.content);
    // The numbers of the question must match exactly: "transfer 100" and "transfer 900" embed alike.
    const numbers = text.match(/\d+(?:[.,]\d+)*/g) ?? [];
    keys.semantic = {
      contextHash: sha256(canonicalJson([CACHE_KEY_VERSION, req.model, params, tsHash, messages.slice(0, -1), numbers])),
      text,
    };
  }
  return keys;
}

/**
 * A CompleteRequest as the cache sees it. For the `scripted` provider the
 * answer comes from the script, not the messages, so the script and cursor
 * are part of the key; otherwise two tasks with different scripts would share.
 */
export function requestForCache(req: CompleteRequest, params: Record<string, unknown> = {}): CacheableRequest {
  const scripted = req.script !== undefined ? { script: sha256(canonicalJson(req.script)), scriptCursor: req.scriptCursor } : {};
  return { model: req.model, messages: req.messages, tools: req.tools, params: { ...params, ...scripted } };
}
