import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatMessage, ToolCall, ToolSpec } from '@keel/contracts';
import { TokenCountCache } from './token-cache';

/**
 * Token estimates for models that report no usage (the scripted model, some
 * local servers). o200k is GPT-4o's encoding: exact for OpenAI, close enough for
 * budgets elsewhere. Overheads follow OpenAI's chat accounting.
 */
export const TOKENS_PER_MESSAGE = 3;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
export const TOKENS_PER_REPLY = 3;

// Prompt text is untrusted: a literal "<|endoftext|>" must count as text, not throw.
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

function encodeCount(text: string): number {
  return countTokens(text, AS_PLAIN_TEXT);
}

// Shared by every request: a step re-sends the transcript of all earlier steps, so all but the newest
// messages (and the tool definitions) are cache hits.
const cache = new TokenCountCache();

export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : cache.getOrCount(text, encodeCount);
}

/** Drops every cached count (tests and memory pressure). */
export function clearTokenCountCache(): void {
  cache.clear();
}

function countToolCalls(calls: readonly ToolCall[]): number {
  return calls.reduce((sum, call) => sum + countTextTokens(call.name) + countTextTokens(JSON.stringify(call.arguments ?? {})), 0);
}

/** Input tokens: every message with its overhead, the tool definitions, and the reply primer. */
export function countPromptTokens(messages: readonly ChatMessage[], tools: readonly ToolSpec[] = []): number {
  let total = TOKENS_PER_REPLY;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + countTextTokens(message.role);
    switch (message.role) {
      case 'system':
      case 'user':
        total += countTextTokens(message.content);
        break;
      case 'assistant':
        total += countTextTokens(message.content ?? '') + countToolCalls(message.toolCalls ?? []);
        break;
      case 'tool':
        total += countTextTokens(message.content) + countTextTokens(message.name) + countTextTokens(message.toolCallId);
        break;
    }
  }
  // Providers render tool schemas into the prompt; the JSON is a fair proxy for their size.
  if (tools.length > 0) total += countTextTokens(JSON.stringify(tools));
  return total;
}

/** Output tokens: the answer text plus any tool calls. */
export function countOutputTokens(content: string | null, toolCalls: readonly ToolCall[] = []): number {
  return countTextTokens(content ?? '') + countToolCalls(toolCalls);
}
