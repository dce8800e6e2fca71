import type { ServerResponse } from 'node:http';
import { argumentsText, delay, FakeModelServer, pieces, writeSse } from './fake-server';
import type { FakeBehaviour, FakeRequest } from './fake-server';

export type { FakeBehaviour, FakeToolCall, LoggedRequest } from './fake-server';

/**
 * A fake of OpenAI's `POST /v1/chat/completions`, plain and streaming, shaped
 * like the real API's answers (role chunk with empty content first, tool-call
 * arguments split across deltas, a usage-only last chunk, `[DONE]`).
 *
 *   const server = await new FakeOpenAiServer().start();
 *   server.enqueue({ kind: 'status', status: 429, retryAfter: 1 }, { kind: 'ok', content: 'hi' });
 *   new OpenAiCompatibleProvider({ id: 'openai', baseUrl: server.baseUrl, apiKey: 'k' });
 */
export class FakeOpenAiServer extends FakeModelServer {
  get baseUrl(): string {
    return `${this.origin}/v1`;
  }

  protected errorBody(status: number, message: string): unknown {
    const type = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error';
    return { error: { message, type, param: null, code: null } };
  }

  protected async respond(behaviour: FakeBehaviour, req: FakeRequest, res: ServerResponse): Promise<void> {
    if (req.path !== '/v1/chat/completions' || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.errorBody(404, `fake: no route ${req.method} ${req.path}`)));
      return;
    }
    const model = modelOf(req.body);
    if (!req.stream) {
      if (behaviour.kind !== 'ok') throw new Error(`behaviour ${behaviour.kind} needs a streaming request`);
      await delay(behaviour.delayMs ?? 0);
      const toolCalls = (behaviour.toolCalls ?? []).map((call, i) => ({
        id: call.id ?? `call_fake_${i}`, type: 'function', function: { name: call.name, arguments: argumentsText(call) },
      }));
      const body: Record<string, unknown> = {
        id: 'chatcmpl-fake', object: 'chat.completion', created: 0, model,
        choices: [{
          index: 0,
          message: { role: 'assistant', content: behaviour.content ?? null, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
          finish_reason: behaviour.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
        }],
      };
      if (behaviour.usage) body.usage = wireUsage(behaviour.usage);
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_fake' });
      res.end(JSON.stringify(body));
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
      JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model, choices, ...extra });
    const delta = (d: Record<string, unknown>, finish: string | null = null): string => chunk([{ index: 0, delta: d, finish_reason: finish }]);
    await writeSse(res, delta({ role: 'assistant', content: '', refusal: null }));

    switch (behaviour.kind) {
      case 'malformed':
        await writeSse(res, '{"id":"chatcmpl-fake","choices":[{"index":0,"delta":{"content":"hel');
        await writeSse(res, '[DONE]');
        res.end();
        return;
      case 'truncated':
        await writeSse(res, delta({ content: 'partial ans' }));
        res.end(); // no finish_reason, no [DONE]
        return;
      case 'stream_error':
        await writeSse(res, JSON.stringify({ error: { type: behaviour.errorType ?? 'server_error', message: behaviour.message ?? 'fake mid-stream error' } }));
        res.end();
        return;
      case 'ok':
        break;
      default:
        throw new Error(`unexpected behaviour ${behaviour.kind}`);
    }

    await delay(behaviour.delayMs ?? 0);
    for (const piece of pieces(behaviour.content ?? '')) await writeSse(res, delta({ content: piece }));
    for (const [index, call] of (behaviour.toolCalls ?? []).entries()) {
      await writeSse(res, delta({ tool_calls: [{ index, id: call.id ?? `call_fake_${index}`, type: 'function', function: { name: call.name, arguments: '' } }] }));
      for (const piece of pieces(argumentsText(call), 2)) await writeSse(res, delta({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
    const finish = behaviour.finishReason ?? ((behaviour.toolCalls ?? []).length > 0 ? 'tool_calls' : 'stop');
    await writeSse(res, delta({}, finish));
    if (includeUsage(req.body) && behaviour.usage) await writeSse(res, chunk([], { usage: wireUsage(behaviour.usage) }));
    await writeSse(res, '[DONE]');
    res.end();
  }
}

function modelOf(body: unknown): string {
  return typeof body === 'object' && body !== null && 'model' in body && typeof body.model === 'string' ? body.model : 'unknown';
}

function includeUsage(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || !('stream_options' in body)) return false;
  const options = body.stream_options;
  return typeof options === 'object' && options !== null && 'include_usage' in options && options.include_usage === true;
}

function wireUsage(usage: { inputTokens: number; outputTokens: number }): Record<string, number> {
  return { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
}
