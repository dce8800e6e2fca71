import { KeelError } from '@keel/contracts';
import type { ChatMessage, ScriptTurn, ToolCall, ToolSpec } from '@keel/contracts';

/** Token counts as the provider reports them (or as a script dictates). */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** Of `inputTokens`, those the provider served from its prompt cache (billed at the cached-input price). */
  cachedInputTokens?: number;
}

/** The script a `scripted` call follows, and how many turns earlier calls used. */
export interface ScriptContext {
  turns: readonly ScriptTurn[];
  cursor: number;
}

/** One attempt at one model call. */
export interface ProviderCall {
  /** The model name after the `provider/` prefix, e.g. `gpt-4o-mini` or `default`. */
  model: string;
  messages: readonly ChatMessage[];
  tools: readonly ToolSpec[];
  /** Aborts at the attempt timeout (bounded by the request deadline). */
  signal: AbortSignal;
  /** 1-based attempt number within this request. */
  attempt: number;
  /** Only for `scripted`: attempt k uses turn `cursor + k - 1`. */
  script?: ScriptContext;
  /** Upper bound on output tokens (a budget's estimate assumes it), sent as the provider's max_tokens. */
  maxOutputTokens?: number;
  /** A cascade will judge this answer: report a confidence if the provider can (OpenAI: from logprobs). */
  wantConfidence?: boolean;
}

export type FinishReason = 'stop' | 'tool_calls' | 'length';

export interface ProviderResult {
  content: string | null;
  toolCalls: ToolCall[];
  finishReason?: FinishReason;
  /** Omitted when the provider reports none; the router then counts tokens itself. */
  usage?: TokenUsage;
  confidence?: number;
  /** Streaming providers: ms from sending the request to the first content or tool-call delta. */
  ttftMs?: number;
}

export interface ModelProvider {
  /** The `provider` part of `provider/model` ids this provider serves. */
  readonly id: string;
  call(input: ProviderCall): Promise<ProviderResult>;
}

/** HTTP statuses worth another attempt: request timeout, rate limit, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

export type ProviderErrorCode = 'provider_error' | 'timeout';

export interface ProviderErrorOptions {
  status?: number;
  retryAfterMs?: number;
  /** Defaults from `status` when given, else true for timeouts and false otherwise. */
  retryable?: boolean;
  details?: unknown;
  cause?: unknown;
}

/** A failed model call: what the retry policy inspects. */
export class ProviderError extends KeelError {
  readonly status?: number;

  constructor(code: ProviderErrorCode, message: string, options: ProviderErrorOptions = {}) {
    const retryable = options.retryable
      ?? (options.status !== undefined ? isRetryableStatus(options.status) : code === 'timeout');
    super(code, message, { retryable, retryAfterMs: options.retryAfterMs, details: options.details, cause: options.cause });
    this.status = options.status;
  }

  /** A provider answered with an HTTP error status. */
  static fromStatus(status: number, message: string, retryAfterMs?: number): ProviderError {
    return new ProviderError('provider_error', message, { status, retryAfterMs });
  }
}
