import { z } from 'zod';
import type { ChatMessage, ToolCall, ToolSpec } from '@keel/contracts';
import { isRecord, joinUrl, malformed, parseArguments, postJson, readJson, transportError, truncatedStream } from './http';
import { ProviderError } from './provider';
import type { FinishReason, ModelProvider, ProviderCall, ProviderResult, TokenUsage } from './provider';
import { readSse } from './sse';

export const ANTHROPIC_VERSION = '2023-06-01';
/** The Messages API requires `max_tokens`; Keel's request carries none yet. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4_096;

export interface AnthropicOptions {
  /** The `provider` part of `provider/model` ids, usually `anthropic`. */
  id: string;
  /** Without the version, e.g. `https://api.anthropic.com`. */
  baseUrl: string;
  /** Sent as `x-api-key`. */
  apiKey?: string;
  /** Stream the answer (default true): that is how time to first token is measured. */
  stream?: boolean;
  maxTokens?: number;
  headers?: Record<string, string>;
  /** Clock for time to first token; injectable for tests. */
  now?: () => number;
}

// ---- wire format (only the fields Keel reads or writes) ----

export type AnthropicWireBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string };

export interface AnthropicWireMessage {
  role: 'user' | 'assistant';
  content: string | AnthropicWireBlock[];
}

export interface AnthropicWireTool {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
}

export interface AnthropicRequestBody {
  model: string;
  max_tokens: number;
  system?: string;
  messages: AnthropicWireMessage[];
  tools?: AnthropicWireTool[];
  stream?: true;
}

const UsageSchema = z.object({
  input_tokens: z.number().int().nonnegative().nullish(),
  output_tokens: z.number().int().nonnegative().nullish(),
  cache_creation_input_tokens: z.number().int().nonnegative().nullish(),
  cache_read_input_tokens: z.number().int().nonnegative().nullish(),
});
type WireUsage = z.infer<typeof UsageSchema>;

/** Loose on purpose: block types Keel does not use (thinking, citations …) are skipped, not rejected. */
const BlockSchema = z.object({
  type: z.string(),
  text: z.string().optional(),
  id: z.string().optional(),
  name: z.string().optional(),
  input: z.unknown().optional(),
});

const MessageSchema = z.object({
  content: z.array(BlockSchema),
  stop_reason: z.string().nullish(),
  usage: UsageSchema.nullish(),
});

const EventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('message_start'), message: z.object({ usage: UsageSchema.nullish() }) }),
  z.object({ type: z.literal('content_block_start'), index: z.number().int().nonnegative(), content_block: BlockSchema }),
  z.object({
    type: z.literal('content_block_delta'),
    index: z.number().int().nonnegative(),
    delta: z.object({ type: z.string(), text: z.string().optional(), partial_json: z.string().optional() }),
  }),
  z.object({ type: z.literal('content_block_stop'), index: z.number().int().nonnegative() }),
  z.object({ type: z.literal('message_delta'), delta: z.object({ stop_reason: z.string().nullish() }), usage: UsageSchema.nullish() }),
  z.object({ type: z.literal('message_stop') }),
  z.object({ type: z.literal('ping') }),
  z.object({ type: z.literal('error'), error: z.object({ type: z.string(), message: z.string().optional() }) }),
]);
type StreamEvent = z.infer<typeof EventSchema>;

/** The HTTP status the API uses for each error type, for errors that arrive inside a 200 stream. */
const ERROR_TYPE_STATUS: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * Anthropic Messages (`POST {baseUrl}/v1/messages`). The system prompt travels
 * apart from the turns; tool results go back as `tool_result` blocks of a user
 * turn. A stream without `message_stop` is a failure, never a short answer;
 * `overloaded_error` (529) is retried like any 5xx.
 */
export class AnthropicProvider implements ModelProvider {
  readonly id: string;
  private readonly url: string;
  private readonly stream: boolean;
  private readonly maxTokens: number;
  private readonly now: () => number;

  constructor(private readonly options: AnthropicOptions) {
    this.id = options.id;
    this.url = joinUrl(options.baseUrl, 'v1/messages');
    this.stream = options.stream ?? true;
    this.maxTokens = options.maxTokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS;
    this.now = options.now ?? (() => performance.now());
  }

  async call(input: ProviderCall): Promise<ProviderResult> {
    const body = toAnthropicRequest(input.model, input.messages, input.tools, { stream: this.stream, maxTokens: Math.min(this.maxTokens, input.maxOutputTokens ?? this.maxTokens) });
    const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION, ...this.options.headers };
    if (this.options.apiKey) headers['x-api-key'] = this.options.apiKey;
    if (this.stream) headers.accept = 'text/event-stream';
    const started = this.now();
    const res = await postJson({ provider: this.id, url: this.url, headers, body, signal: input.signal });
    if (!this.stream) return fromAnthropicMessage(this.id, await readJson(this.id, res, input.signal));
    return this.readStream(res, input.signal, started);
  }

  private async readStream(res: Response, signal: AbortSignal, started: number): Promise<ProviderResult> {
    if (res.body === null) throw truncatedStream(this.id, 'the response has no body');
    const acc = new StreamAccumulator(this.id);
    try {
      for await (const sse of readSse(res.body)) {
        const delta = acc.add(parseEvent(this.id, sse.data));
        if (delta && acc.ttftMs === undefined) acc.ttftMs = Math.max(0, this.now() - started);
        if (acc.stopped) break;
      }
    } catch (err) {
      // A reset connection mid-stream is a truncated stream too; our own abort stays a timeout.
      if (signal.aborted) throw transportError(this.id, err, signal, 'reading the stream');
      throw err instanceof ProviderError ? err : truncatedStream(this.id, `connection lost (${err instanceof Error ? err.message : String(err)})`, err);
    }
    return acc.finish();
  }
}

// ---- Keel → wire ----

export function toAnthropicRequest(
  model: string,
  messages: readonly ChatMessage[],
  tools: readonly ToolSpec[],
  options: { stream: boolean; maxTokens: number },
): AnthropicRequestBody {
  const system: string[] = [];
  const turns: AnthropicWireMessage[] = [];
  for (const message of messages) {
    if (message.role === 'system') {
      system.push(message.content);
      continue;
    }
    const turn = toAnthropicTurn(message, turns.length);
    if (turn) pushMerged(turns, turn);
  }
  const body: AnthropicRequestBody = { model, max_tokens: options.maxTokens, messages: turns };
  if (system.length > 0) body.system = system.join('\n\n');
  if (tools.length > 0) body.tools = tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters }));
  if (options.stream) body.stream = true;
  return body;
}

function toAnthropicTurn(message: Exclude<ChatMessage, { role: 'system' }>, index: number): AnthropicWireMessage | undefined {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: message.content };
    case 'assistant': {
      const blocks: AnthropicWireBlock[] = [];
      // The API rejects empty text blocks.
      if (message.content) blocks.push({ type: 'text', text: message.content });
      (message.toolCalls ?? []).forEach((call, i) => {
        blocks.push({ type: 'tool_use', id: call.id ?? `toolu_${index}_${i}`, name: call.name, input: call.arguments });
      });
      return blocks.length > 0 ? { role: 'assistant', content: blocks } : undefined;
    }
    case 'tool':
      return { role: 'user', content: [{ type: 'tool_result', tool_use_id: message.toolCallId, content: message.content }] };
  }
}

/**
 * Consecutive turns of one role become one turn: all results of a tool-use turn
 * must come back in the single user turn that follows it, before any text.
 */
function pushMerged(turns: AnthropicWireMessage[], turn: AnthropicWireMessage): void {
  const last = turns.at(-1);
  if (last?.role !== turn.role) {
    turns.push(turn);
    return;
  }
  last.content = [...asBlocks(last.content), ...asBlocks(turn.content)];
}

function asBlocks(content: string | AnthropicWireBlock[]): AnthropicWireBlock[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

// ---- wire → Keel ----

export function fromAnthropicMessage(provider: string, json: unknown): ProviderResult {
  const parsed = MessageSchema.safeParse(json);
  if (!parsed.success) throw malformed(provider, `unexpected message shape: ${z.prettifyError(parsed.error)}`);
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of parsed.data.content) {
    if (block.type === 'text' && block.text !== undefined) texts.push(block.text);
    if (block.type === 'tool_use') toolCalls.push(toolUse(provider, block));
  }
  const result: ProviderResult = {
    content: texts.length > 0 ? texts.join('') : null,
    toolCalls,
    finishReason: finishReason(parsed.data.stop_reason, toolCalls.length),
  };
  const usage = parsed.data.usage ? toUsage(parsed.data.usage) : undefined;
  if (usage) result.usage = usage;
  return result;
}

function toolUse(provider: string, block: z.infer<typeof BlockSchema>): ToolCall {
  if (!block.id || !block.name) throw malformed(provider, 'a tool_use block has no id or name');
  if (!isRecord(block.input)) throw malformed(provider, `the input of tool_use "${block.name}" is not an object`);
  return { id: block.id, name: block.name, arguments: block.input };
}

function parseEvent(provider: string, data: string): StreamEvent | undefined {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (err) {
    throw malformed(provider, `stream event is not JSON: ${JSON.stringify(data.slice(0, 120))}`, err);
  }
  // New event types may appear at any time (the API promises this): skip them.
  if (isRecord(json) && typeof json.type === 'string' && !EVENT_TYPES.has(json.type)) return undefined;
  const parsed = EventSchema.safeParse(json);
  if (!parsed.success) throw malformed(provider, `unexpected stream event: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

const EVENT_TYPES: ReadonlySet<string> = new Set(EventSchema.options.map((o) => o.shape.type.value));

interface PartialBlock {
  type: string;
  text: string;
  id?: string;
  name?: string;
  json: string;
  /** Set when content_block_start already carried a non-empty input (no deltas follow). */
  input?: Record<string, unknown>;
}

class StreamAccumulator {
  ttftMs?: number;
  stopped = false;
  private started = false;
  private readonly blocks = new Map<number, PartialBlock>();
  private stopReason?: string;
  private usage: WireUsage = {};

  constructor(private readonly provider: string) {}

  /** Adds one event; true when it carried text or started a tool call (the first one is TTFT). */
  add(event: StreamEvent | undefined): boolean {
    switch (event?.type) {
      case 'message_start':
        this.started = true;
        this.usage = { ...this.usage, ...defined(event.message.usage) };
        return false;
      case 'content_block_start': {
        const b = event.content_block;
        const block: PartialBlock = { type: b.type, text: b.text ?? '', id: b.id, name: b.name, json: '' };
        if (isRecord(b.input) && Object.keys(b.input).length > 0) block.input = b.input;
        this.blocks.set(event.index, block);
        return b.type === 'tool_use' || block.text !== '';
      }
      case 'content_block_delta': {
        const block = this.blocks.get(event.index);
        if (!block) throw malformed(this.provider, `content_block_delta for block ${event.index} that was never started`);
        if (event.delta.type === 'text_delta' && event.delta.text) {
          block.text += event.delta.text;
          return true;
        }
        if (event.delta.type === 'input_json_delta' && event.delta.partial_json) {
          block.json += event.delta.partial_json;
          return true;
        }
        return false;
      }
      case 'message_delta':
        if (event.delta.stop_reason) this.stopReason = event.delta.stop_reason;
        // message_delta's counts are cumulative: they replace, not add to, earlier ones.
        this.usage = { ...this.usage, ...defined(event.usage) };
        return false;
      case 'message_stop':
        this.stopped = true;
        return false;
      case 'error': {
        const { type, message } = event.error;
        const status = ERROR_TYPE_STATUS[type] ?? 500;
        throw new ProviderError('provider_error', `${this.provider}: error event mid-stream: ${type}${message ? `: ${message}` : ''}`, {
          status,
          details: { provider: this.provider, errorType: type, inStream: true },
        });
      }
      default:
        return false; // ping, content_block_stop, unknown types
    }
  }

  finish(): ProviderResult {
    if (!this.started) throw truncatedStream(this.provider, 'ended before message_start');
    if (!this.stopped) throw truncatedStream(this.provider, `ended without message_stop (after ${this.blocks.size} content block${this.blocks.size === 1 ? '' : 's'})`);
    const texts: string[] = [];
    const toolCalls: ToolCall[] = [];
    for (const [, block] of [...this.blocks.entries()].sort(([a], [b]) => a - b)) {
      if (block.type === 'text') texts.push(block.text);
      if (block.type === 'tool_use') {
        if (!block.id || !block.name) throw malformed(this.provider, 'a streamed tool_use block has no id or name');
        const input = block.json !== '' ? parseArguments(this.provider, block.name, block.json) : (block.input ?? {});
        toolCalls.push({ id: block.id, name: block.name, arguments: input });
      }
    }
    const result: ProviderResult = {
      content: texts.length > 0 ? texts.join('') : null,
      toolCalls,
      finishReason: finishReason(this.stopReason, toolCalls.length),
    };
    const usage = toUsage(this.usage);
    if (usage) result.usage = usage;
    if (this.ttftMs !== undefined) result.ttftMs = this.ttftMs;
    return result;
  }
}

function defined(usage: WireUsage | null | undefined): WireUsage {
  if (!usage) return {};
  return Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== null && v !== undefined));
}

function finishReason(wire: string | null | undefined, toolCalls: number): FinishReason {
  if (toolCalls > 0) return 'tool_calls';
  return wire === 'max_tokens' ? 'length' : 'stop';
}

/** Cached prompt tokens are still prompt tokens: Keel's input count includes them. */
function toUsage(usage: WireUsage): TokenUsage | undefined {
  if (usage.input_tokens == null || usage.output_tokens == null) return undefined;
  const input = usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
  const cached = usage.cache_read_input_tokens ?? 0;
  return { inputTokens: input, outputTokens: usage.output_tokens, ...(cached ? { cachedInputTokens: cached } : {}) };
}
