import { KeelError } from '@keel/contracts';
import type { ScriptTurn, ToolCall } from '@keel/contracts';
import { sleep, untilAborted } from '../retries/timers';
import { ProviderError } from './provider';
import type { ModelProvider, ProviderCall, ProviderResult, ScriptContext } from './provider';
import { renderPrompt } from './render-prompt';

export const SCRIPTED_PROVIDER_ID = 'scripted';

/**
 * The built-in deterministic model (design.md, "scripted turns"): for demos,
 * tests, evaluation and fault injection. Each attempt consumes one turn, so
 * `[{fault: {status: 429}}, {content: "ok"}]` fails once, then succeeds on retry.
 */
export class ScriptedProvider implements ModelProvider {
  readonly id = SCRIPTED_PROVIDER_ID;

  async call(input: ProviderCall): Promise<ProviderResult> {
    const script = requireScript(input.script);
    const index = script.cursor + input.attempt - 1;
    const turn = script.turns[index];
    if (turn === undefined) throw scriptExhausted(index, script, input.attempt);

    try {
      if (turn.latencyMs !== undefined && turn.latencyMs > 0) await sleep(turn.latencyMs, input.signal);
      if (turn.fault !== undefined) {
        if ('timeout' in turn.fault) await untilAborted(input.signal);
        throw faultError(turn.fault);
      }
    } catch (err) {
      // Whatever was pending when the attempt's signal fired, the model "timed out".
      if (input.signal.aborted && !(err instanceof ProviderError && err.code === 'timeout')) {
        throw new ProviderError('timeout', `scripted model (turn ${index}) was aborted before answering`, { cause: err });
      }
      throw err;
    }

    const toolCalls = withIds(turn.toolCalls ?? [], firstCallNumber(script.turns, index));
    const result: ProviderResult = {
      // `reply` ("echo": the prompt; "summary": an extractive summary) wins over a scripted `content`.
      content: turn.reply === 'echo' ? renderPrompt(input.messages, input.tools)
        : turn.reply === 'summary' ? extractiveSummary(input.messages)
          : (turn.content ?? null),
      toolCalls,
      finishReason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
    };
    if (turn.usage !== undefined) result.usage = { ...turn.usage };
    if (turn.confidence !== undefined) result.confidence = turn.confidence;
    return result;
  }
}

/** Words kept from the first sentence of each line: enough for a fact, short enough to compress. */
const SUMMARY_WORDS = 30;

/**
 * `reply: "summary"`: a deterministic stand-in for a summarising model, so memory
 * summaries work on the scripted model. The first sentence (at most 30 words) of
 * each non-empty line of the last user message, markup lines (`<…>`) skipped.
 */
export function extractiveSummary(messages: ProviderCall['messages']): string {
  const last = [...messages].reverse().find((m) => m.role === 'user');
  const lines = (last?.content ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !/^<[^>]*>$/.test(l));
  return lines
    .map((line) => {
      const sentence = line.split(/(?<=[.!?。！？])\s/u)[0];
      const words = sentence.split(/\s+/);
      return words.length > SUMMARY_WORDS ? `${words.slice(0, SUMMARY_WORDS).join(' ')} …` : sentence;
    })
    .join('\n');
}

function requireScript(script: ScriptContext | undefined): ScriptContext {
  if (script === undefined || script.turns.length === 0) {
    throw new KeelError('invalid_request', 'the scripted model needs a script: set it in the agent file or in metadata.script of the task');
  }
  return script;
}

function scriptExhausted(index: number, script: ScriptContext, attempt: number): KeelError {
  const length = script.turns.length;
  return new KeelError(
    'script_exhausted',
    `the scripted model ran out of turns: attempt ${attempt} needs turn index ${index} (0-based, cursor ${script.cursor}) but the script has only ${length} turn${length === 1 ? '' : 's'}`,
    { details: { turnIndex: index, scriptLength: length, cursor: script.cursor, attempt } },
  );
}

type Fault = NonNullable<ScriptTurn['fault']>;

/** The `timeout` branch only reaches here if the signal aborted without an Error reason. */
function faultError(fault: Fault): ProviderError {
  if ('status' in fault) {
    return ProviderError.fromStatus(fault.status, `scripted fault: HTTP ${fault.status}`, fault.retryAfterMs);
  }
  if ('malformed' in fault) {
    return new ProviderError('provider_error', 'malformed model output (scripted fault)', { retryable: true });
  }
  return new ProviderError('timeout', 'scripted model timed out (scripted fault)');
}

/**
 * Tool call ids are numbered across the whole script, so ids stay unique in a
 * conversation that spans several steps (tool results refer back to them).
 */
function firstCallNumber(turns: readonly ScriptTurn[], index: number): number {
  let before = 0;
  for (let i = 0; i < index; i++) before += turns[i].toolCalls?.length ?? 0;
  return before + 1;
}

function withIds(calls: readonly ToolCall[], first: number): ToolCall[] {
  return calls.map((call, i) => ({ ...call, id: call.id ?? `call_${first + i}`, arguments: { ...call.arguments } }));
}
