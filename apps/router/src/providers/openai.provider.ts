import { z } from 'zod';
import type { ChatMessage, ToolCall, ToolSpec } from '@keel/contracts';
import { isRecord, joinUrl, malformed, parseArguments, postJson, readJson, transportError, truncatedStream } from './http';
import { ProviderError } from './provider';
import type { FinishReason, ModelProvider, ProviderCall, ProviderResult, TokenUsage } from './provider';
import { readSse } from './sse';

export interface OpenAiCompatibleOptions {
  /** The `provider` part of `provider/model` ids, e.g. `openai` or `vllm`. */
  id: string;
  /** Up to and including the version, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer`; local servers (vLLM, Ollama) may need none. */
  apiKey?: string;
  /** Stream the answer (default true): that is how time to first token is measured. */
  stream?: boolean;
  /** Extra headers, e.g. `OpenAI-Organization`. */
  headers?: Record<string, string>;
  /** Clock for time to first token; injectable for tests. */
  now?: () => number;
}

// ---- wire format (only the fields Keel reads or writes) ----

interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type OpenAiWireMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: WireToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface OpenAiWireTool {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export interface OpenAiRequestBody {
  model: string;
  messages: OpenAiWireMessage[];
  tools?: OpenAiWireTool[];
  stream?: true;
  stream_options?: { include_usage: true };
  max_tokens?: number;
  /** Asked only when a cascade needs the answer's confidence. */
  logprobs?: boolean;
}

const UsageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().int().nonnegative().nullish() }).nullish(),
});

const LogprobsSchema = z.object({ content: z.array(z.object({ logprob: z.number() })).nullish() }).nullish();

const CompletionSchema = z.object({
  choices: z.array(z.object({
    logprobs: LogprobsSchema,
    message: z.object({
      content: z.string().nullish(),
      refusal: z.string().nullish(),
      tool_calls: z.array(z.object({
        id: z.string().nullish(),
        function: z.object({ name: z.string().min(1), arguments: z.string().nullish() }),
      })).nullish(),
    }),
    finish_reason: z.string().nullish(),
  })).min(1, 'no choices'),
  usage: UsageSchema.nullish(),
});

const ChunkSchema = z.object({
  choices: z.array(z.object({
    index: z.number().int().nonnegative().optional(),
    logprobs: LogprobsSchema,
    delta: z.object({
      content: z.string().nullish(),
      refusal: z.string().nullish(),
      tool_calls: z.array(z.object({
        index: z.number().int().nonnegative(),
        id: z.string().nullish(),
        function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
      })).nullish(),
    }).nullish(),
    finish_reason: z.string().nullish(),
  })).nullish(),
  usage: UsageSchema.nullish(),
});

/**
 * OpenAI chat completions (`POST {baseUrl}/chat/completions`) and the servers
 * that copy it (vLLM, Ollama, LiteLLM, Azure's v1 endpoint …). Errors map to
 * ProviderErrors the retry policy understands; a stream that ends before its
 * `finish_reason` and `[DONE]` is a failure, never a short answer.
 */
export class OpenAiCompatibleProvider implements ModelProvider {
  readonly id: string;
  private readonly url: string;
  private readonly stream: boolean;
  private readonly now: () => number;

  constructor(private readonly options: OpenAiCompatibleOptions) {
    this.id = options.id;
    this.url = joinUrl(options.baseUrl, 'chat/completions');
    this.stream = options.stream ?? true;
    this.now = options.now ?? (() => performance.now());
  }

  async call(input: ProviderCall): Promise<ProviderResult> {
    const body = toOpenAiRequest(input.model, input.messages, input.tools, this.stream);
    // max_tokens (not max_completion_tokens): the one every OpenAI-compatible server understands.
    if (input.maxOutputTokens !== undefined) body.max_tokens = input.maxOutputTokens;
    if (input.wantConfidence) body.logprobs = true;
    const headers: Record<string, string> = { ...this.options.headers };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    if (this.stream) headers.accept = 'text/event-stream';
    const started = this.now();
    const res = await postJson({ provider: this.id, url: this.url, headers, body, signal: input.signal });
    if (!this.stream) return fromOpenAiCompletion(this.id, await readJson(this.id, res, input.signal));
    return this.readStream(res, input.signal, started);
  }

  private async readStream(res: Response, signal: AbortSignal, started: number): Promise<ProviderResult> {
    if (res.body === null) throw truncatedStream(this.id, 'the response has no body');
    const acc = new StreamAccumulator(this.id);
    let done = false;
    try {
      for await (const event of readSse(res.body)) {
        if (event.data === '[DONE]') {
          done = true;
          break;
        }
        const delta = acc.add(parseChunk(this.id, event.data));
        if (delta && acc.ttftMs === undefined) acc.ttftMs = Math.max(0, this.now() - started);
      }
    } catch (err) {
      // A reset connection mid-stream is a truncated stream too; our own abort stays a timeout.
      if (signal.aborted) throw transportError(this.id, err, signal, 'reading the stream');
      throw err instanceof ProviderError ? err : truncatedStream(this.id, `connection lost (${err instanceof Error ? err.message : String(err)})`, err);
    }
    return acc.finish(done);
  }
}

// ---- Keel → wire ----

export function toOpenAiRequest(model: string, messages: readonly ChatMessage[], tools: readonly ToolSpec[], stream: boolean): OpenAiRequestBody {
  const body: OpenAiRequestBody = { model, messages: messages.map(toOpenAiMessage) };
  // OpenAI rejects `tools: []`: leave the field out when there are none.
  if (tools.length > 0) body.tools = tools.map(toOpenAiTool);
  if (stream) {
    body.stream = true;
    // Without this the stream carries no token counts.
    body.stream_options = { include_usage: true };
  }
  return body;
}

function toOpenAiMessage(message: ChatMessage, index: number): OpenAiWireMessage {
  switch (message.role) {
    case 'system':
    case 'user':
      return { role: message.role, content: message.content };
    case 'assistant': {
      const wire: OpenAiWireMessage = { role: 'assistant', content: message.content };
      if (message.toolCalls && message.toolCalls.length > 0) {
        wire.tool_calls = message.toolCalls.map((call, i) => ({
          // The API requires ids; a call without one cannot be referred to by a tool result anyway.
          id: call.id ?? `call_${index}_${i}`,
          type: 'function',
          function: { name: call.name, arguments: JSON.stringify(call.arguments) },
        }));
      }
      return wire;
    }
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
  }
}

function toOpenAiTool(tool: ToolSpec): OpenAiWireTool {
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } };
}

// ---- wire → Keel ----

export function fromOpenAiCompletion(provider: string, json: unknown): ProviderResult {
  const parsed = CompletionSchema.safeParse(json);
  if (!parsed.success) throw malformed(provider, `unexpected completion shape: ${z.prettifyError(parsed.error)}`);
  const { message, finish_reason: finish, logprobs } = parsed.data.choices[0];
  const toolCalls: ToolCall[] = (message.tool_calls ?? []).map((call, i) => ({
    id: call.id ?? `call_${i}`,
    name: call.function.name,
    arguments: parseArguments(provider, call.function.name, call.function.arguments ?? ''),
  }));
  const result: ProviderResult = {
    // A refusal is the model's answer: show it rather than an empty reply.
    content: message.content ?? message.refusal ?? null,
    toolCalls,
    finishReason: finishReason(finish, toolCalls.length),
  };
  if (parsed.data.usage) result.usage = toUsage(parsed.data.usage);
  const confidence = new Confidence();
  confidence.add(logprobs);
  if (confidence.value !== undefined) result.confidence = confidence.value;
  return result;
}

/**
 * The answer's confidence from token log-probabilities: the geometric mean
 * probability of its content tokens, exp(mean logprob). Only content tokens
 * have log-probabilities at OpenAI; an answer of tool calls has none.
 */
class Confidence {
  private sum = 0;
  private n = 0;

  add(logprobs: z.infer<typeof LogprobsSchema>): void {
    for (const t of logprobs?.content ?? []) {
      this.sum += t.logprob;
      this.n++;
    }
  }

  get value(): number | undefined {
    return this.n === 0 ? undefined : Math.round(Math.exp(this.sum / this.n) * 1000) / 1000;
  }
}

function parseChunk(provider: string, data: string): z.infer<typeof ChunkSchema> {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (err) {
    throw malformed(provider, `stream chunk is not JSON: ${JSON.stringify(data.slice(0, 120))}`, err);
  }
  // Some servers report a failure inside a 200 stream (the official client throws on it too).
  if (isRecord(json) && isRecord(json.error)) {
    const message = typeof json.error.message === 'string' ? json.error.message : JSON.stringify(json.error);
    throw truncatedStream(provider, `the server reported an error mid-stream: ${message}`);
  }
  const parsed = ChunkSchema.safeParse(json);
  if (!parsed.success) throw malformed(provider, `unexpected stream chunk: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

interface PartialToolCall {
  id?: string;
  name: string;
  arguments: string;
}

/** Collects the deltas of choice 0 until the stream's end. */
class StreamAccumulator {
  ttftMs?: number;
  private content = '';
  private sawContent = false;
  private refusal = '';
  private readonly tools = new Map<number, PartialToolCall>();
  private finishWire?: string;
  private usage?: TokenUsage;
  private readonly confidence = new Confidence();

  constructor(private readonly provider: string) {}

  /** Adds one chunk; true when it carried content or a tool-call delta (the first one is TTFT). */
  add(chunk: z.infer<typeof ChunkSchema>): boolean {
    if (chunk.usage) this.usage = toUsage(chunk.usage);
    let delta = false;
    for (const choice of chunk.choices ?? []) {
      if ((choice.index ?? 0) !== 0) continue;
      this.confidence.add(choice.logprobs);
      const d = choice.delta;
      if (d?.content) {
        this.content += d.content;
        this.sawContent = true;
        delta = true;
      }
      if (d?.refusal) {
        this.refusal += d.refusal;
        delta = true;
      }
      for (const t of d?.tool_calls ?? []) {
        const call = this.tools.get(t.index) ?? { name: '', arguments: '' };
        if (t.id) call.id = t.id;
        // Names arrive whole in the first delta at OpenAI; some servers split them.
        if (t.function?.name) call.name += t.function.name;
        if (t.function?.arguments) call.arguments += t.function.arguments;
        this.tools.set(t.index, call);
        delta = true;
      }
      if (choice.finish_reason) this.finishWire = choice.finish_reason;
    }
    return delta;
  }

  finish(sawDone: boolean): ProviderResult {
    if (this.finishWire === undefined) throw truncatedStream(this.provider, `ended without a finish_reason${this.progress()}`);
    if (!sawDone) throw truncatedStream(this.provider, `ended without data: [DONE]${this.progress()}`);
    const toolCalls: ToolCall[] = [...this.tools.entries()].sort(([a], [b]) => a - b).map(([index, call]) => {
      if (call.name === '') throw malformed(this.provider, `streamed tool call ${index} has no function name`);
      return { id: call.id ?? `call_${index}`, name: call.name, arguments: parseArguments(this.provider, call.name, call.arguments) };
    });
    const result: ProviderResult = {
      content: this.sawContent ? this.content : this.refusal !== '' ? this.refusal : null,
      toolCalls,
      finishReason: finishReason(this.finishWire, toolCalls.length),
    };
    if (this.usage) result.usage = this.usage;
    if (this.ttftMs !== undefined) result.ttftMs = this.ttftMs;
    if (this.confidence.value !== undefined) result.confidence = this.confidence.value;
    return result;
  }

  private progress(): string {
    return ` (after ${this.content.length} chars of content and ${this.tools.size} tool call${this.tools.size === 1 ? '' : 's'})`;
  }
}

function finishReason(wire: string | null | undefined, toolCalls: number): FinishReason {
  // `tool_calls` without any calls would leave the step waiting for nothing: treat it as a stop.
  if (toolCalls > 0) return 'tool_calls';
  return wire === 'length' ? 'length' : 'stop';
}

function toUsage(usage: z.infer<typeof UsageSchema>): TokenUsage {
  const cached = usage.prompt_tokens_details?.cached_tokens;
  return { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens, ...(cached ? { cachedInputTokens: cached } : {}) };
}
