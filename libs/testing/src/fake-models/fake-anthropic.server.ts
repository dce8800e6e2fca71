import type { ServerResponse } from 'node:http';
import { delay, FakeModelServer, pieces, writeSse } from './fake-server';
import type { FakeBehaviour, FakeRequest } from './fake-server';

export type { FakeBehaviour, FakeToolCall, LoggedRequest } from './fake-server';

/** The error type Anthropic sends with each status (529 is `overloaded_error`). */
function errorType(status: number): string {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 529: return 'overloaded_error';
    default: return 'api_error';
  }
}

/**
 * A fake of Anthropic's `POST /v1/messages`, plain and streaming
 * (message_start, content_block_start/delta/stop with input_json_delta,
 * message_delta with usage, message_stop, and the odd `ping`).
 */
export class FakeAnthropicServer extends FakeModelServer {
  get baseUrl(): string {
    return this.origin;
  }

  protected errorBody(status: number, message: string): unknown {
    return { type: 'error', error: { type: errorType(status), message } };
  }

  protected async respond(behaviour: FakeBehaviour, req: FakeRequest, res: ServerResponse): Promise<void> {
    if (req.path !== '/v1/messages' || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.errorBody(404, `fake: no route ${req.method} ${req.path}`)));
      return;
    }
    const model = typeof req.body === 'object' && req.body !== null && 'model' in req.body && typeof req.body.model === 'string' ? req.body.model : 'unknown';
    if (!req.stream) {
      if (behaviour.kind !== 'ok') throw new Error(`behaviour ${behaviour.kind} needs a streaming request`);
      await delay(behaviour.delayMs ?? 0);
      const content: unknown[] = [];
      if (behaviour.content !== undefined) content.push({ type: 'text', text: behaviour.content });
      for (const [i, call] of (behaviour.toolCalls ?? []).entries()) {
        // A string `arguments` is sent as a string `input`: a shape the real API never produces.
        content.push({ type: 'tool_use', id: call.id ?? `toolu_fake_${i}`, name: call.name, input: call.arguments });
      }
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_fake' });
      res.end(JSON.stringify({
        id: 'msg_fake', type: 'message', role: 'assistant', model, content,
        stop_reason: stopReason(behaviour), stop_sequence: null,
        usage: wireUsage(behaviour.usage ?? { inputTokens: 0, outputTokens: 0 }),
      }));
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (type: string, data: Record<string, unknown>): Promise<void> => writeSse(res, JSON.stringify({ type, ...data }), type);
    const usage = behaviour.kind === 'ok' ? behaviour.usage : undefined;
    await send('message_start', {
      message: {
        id: 'msg_fake', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
        usage: { input_tokens: usage?.inputTokens ?? 0, output_tokens: 1 },
      },
    });

    switch (behaviour.kind) {
      case 'malformed':
        await writeSse(res, '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hel', 'content_block_delta');
        await send('message_stop', {});
        res.end();
        return;
      case 'truncated':
        await send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
        await send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'partial ans' } });
        res.end(); // no content_block_stop, message_delta or message_stop
        return;
      case 'stream_error':
        await send('error', { error: { type: behaviour.errorType ?? 'overloaded_error', message: behaviour.message ?? 'Overloaded' } });
        res.end();
        return;
      case 'ok':
        break;
      default:
        throw new Error(`unexpected behaviour ${behaviour.kind}`);
    }

    await send('ping', {});
    await delay(behaviour.delayMs ?? 0);
    let index = 0;
    if (behaviour.content !== undefined) {
      await send('content_block_start', { index, content_block: { type: 'text', text: '' } });
      for (const piece of pieces(behaviour.content)) await send('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
      await send('content_block_stop', { index });
      index++;
    }
    for (const [i, call] of (behaviour.toolCalls ?? []).entries()) {
      await send('content_block_start', { index, content_block: { type: 'tool_use', id: call.id ?? `toolu_fake_${i}`, name: call.name, input: {} } });
      const json = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
      for (const piece of pieces(json, 2)) await send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
      await send('content_block_stop', { index });
      index++;
    }
    await send('message_delta', { delta: { stop_reason: stopReason(behaviour), stop_sequence: null }, usage: { output_tokens: usage?.outputTokens ?? 0 } });
    await send('message_stop', {});
    res.end();
  }
}

function stopReason(behaviour: Extract<FakeBehaviour, { kind: 'ok' }>): string {
  return behaviour.finishReason ?? ((behaviour.toolCalls ?? []).length > 0 ? 'tool_use' : 'end_turn');
}

function wireUsage(usage: { inputTokens: number; outputTokens: number }): Record<string, number> {
  return { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens };
}
