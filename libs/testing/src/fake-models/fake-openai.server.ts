import type { ServerResponse } from 'node:http';
import { argumentsText, delay, FakeModelServer, pieces, writeSse } from './fake-server';
import type { FakeBehaviour, FakeRequest, LoggedRequest } from './fake-server';

/** A batch as the fake keeps it (`polls` is the fake's own counter). */
export interface FakeBatch {
  id: string;
  object: 'batch';
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: 'validating' | 'in_progress' | 'completed' | 'expired' | 'failed';
  output_file_id: string | null;
  error_file_id: string | null;
  errors: { data: { code: string; message: string }[] } | null;
  request_counts: { total: number; completed: number; failed: number };
  polls: number;
}

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
  /** Uploaded files by id (batch input, and the output/error files this fake writes). */
  readonly files = new Map<string, string>();
  /** Batches by id, as the Batch API reports them. */
  readonly batches = new Map<string, FakeBatch>();
  /**
   * How the next batch ends once polled `pollsToFinish` times: `completed`
   * answers each line with the next scripted behaviour (`ok` → 200 line,
   * `status` → error line); `expired` / `failed` answer no line.
   */
  batchOutcome: 'completed' | 'expired' | 'failed' = 'completed';
  pollsToFinish = 1;
  private nextId = 1;

  get baseUrl(): string {
    return `${this.origin}/v1`;
  }

  protected override async intercept(req: LoggedRequest, rawBody: string, res: ServerResponse): Promise<boolean> {
    const json = (status: number, body: unknown): true => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return true;
    };
    if (req.method === 'POST' && req.path === '/v1/files') {
      const file = multipartFile(String(req.headers['content-type'] ?? ''), rawBody);
      if (file === undefined) return json(400, this.errorBody(400, 'fake: expected multipart/form-data with purpose=batch and a file'));
      const id = `file-${this.nextId++}`;
      this.files.set(id, file);
      return json(200, { id, object: 'file', bytes: file.length, created_at: 0, filename: 'batch.jsonl', purpose: 'batch' });
    }
    if (req.method === 'POST' && req.path === '/v1/batches') {
      const body = req.body as { input_file_id?: string; endpoint?: string; completion_window?: string };
      if (!body.input_file_id || !this.files.has(body.input_file_id)) return json(400, this.errorBody(400, 'fake: unknown input_file_id'));
      if (body.endpoint !== '/v1/chat/completions' || body.completion_window !== '24h') return json(400, this.errorBody(400, 'fake: unsupported endpoint or completion_window'));
      const batch: FakeBatch = { id: `batch_${this.nextId++}`, object: 'batch', endpoint: body.endpoint, input_file_id: body.input_file_id, completion_window: '24h', status: 'validating', output_file_id: null, error_file_id: null, errors: null, request_counts: { total: 0, completed: 0, failed: 0 }, polls: 0 };
      this.batches.set(batch.id, batch);
      return json(200, publicBatch(batch));
    }
    const batchMatch = /^\/v1\/batches\/([^/]+)$/.exec(req.path);
    if (req.method === 'GET' && batchMatch) {
      const batch = this.batches.get(decodeURIComponent(batchMatch[1]));
      if (!batch) return json(404, this.errorBody(404, 'fake: no such batch'));
      batch.polls++;
      if (batch.polls >= this.pollsToFinish && !['completed', 'expired', 'failed'].includes(batch.status)) this.finish(batch);
      else if (batch.status === 'validating') batch.status = 'in_progress';
      return json(200, publicBatch(batch));
    }
    const fileMatch = /^\/v1\/files\/([^/]+)\/content$/.exec(req.path);
    if (req.method === 'GET' && fileMatch) {
      const content = this.files.get(decodeURIComponent(fileMatch[1]));
      if (content === undefined) return json(404, this.errorBody(404, 'fake: no such file'));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(content);
      return true;
    }
    return false;
  }

  /** The batch's input lines (parsed), e.g. to check what Keel sent. */
  batchInput(batchId: string): { custom_id: string; method: string; url: string; body: Record<string, unknown> }[] {
    const batch = this.batches.get(batchId);
    const text = batch ? this.files.get(batch.input_file_id) ?? '' : '';
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: Record<string, unknown> });
  }

  private finish(batch: FakeBatch): void {
    const lines = this.batchInput(batch.id);
    batch.request_counts.total = lines.length;
    if (this.batchOutcome !== 'completed') {
      batch.status = this.batchOutcome;
      if (this.batchOutcome === 'failed') batch.errors = { data: [{ code: 'invalid_request', message: 'fake: the batch failed validation' }] };
      else {
        const errorLines = lines.map((l, i) => JSON.stringify({ id: `batch_req_${i}`, custom_id: l.custom_id, response: null, error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } }));
        batch.error_file_id = this.writeFile(errorLines);
        batch.request_counts.failed = lines.length;
      }
      return;
    }
    const out: string[] = [];
    const errors: string[] = [];
    for (const [i, line] of lines.entries()) {
      const b = this.nextBehaviour() ?? { kind: 'status', status: 500, message: 'fake server: no scripted behaviour left for this batch line' };
      if (b.kind === 'ok') {
        out.push(JSON.stringify({ id: `batch_req_${i}`, custom_id: line.custom_id, response: { status_code: 200, request_id: `req_${i}`, body: completionBody(b, modelOf(line.body)) }, error: null }));
        batch.request_counts.completed++;
      } else {
        const status = b.kind === 'status' ? b.status : 500;
        errors.push(JSON.stringify({ id: `batch_req_${i}`, custom_id: line.custom_id, response: { status_code: status, request_id: `req_${i}`, body: this.errorBody(status, b.kind === 'status' ? b.message ?? `fake HTTP ${status}` : 'fake batch line error') }, error: null }));
        batch.request_counts.failed++;
      }
    }
    batch.status = 'completed';
    batch.output_file_id = out.length > 0 ? this.writeFile(out) : null;
    batch.error_file_id = errors.length > 0 ? this.writeFile(errors) : null;
  }

  private writeFile(lines: string[]): string {
    const id = `file-${this.nextId++}`;
    this.files.set(id, lines.join('\n') + '\n');
    return id;
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
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_fake' });
      res.end(JSON.stringify(completionBody(behaviour, model, wantsLogprobs(req.body))));
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
    const parts = pieces(behaviour.content ?? '');
    const logprobs = wantsLogprobs(req.body) ? behaviour.logprobs ?? [] : [];
    for (const [i, piece] of parts.entries()) {
      // The token log-probabilities ride on the content chunks; the last chunk takes any left over.
      const mine = i === parts.length - 1 ? logprobs.slice(i) : logprobs.slice(i, i + 1);
      const lp = mine.length > 0 ? { logprobs: { content: mine.map((logprob, k) => ({ token: `t${i + k}`, logprob, bytes: null, top_logprobs: [] })) } } : {};
      await writeSse(res, chunk([{ index: 0, delta: { content: piece }, finish_reason: null, ...lp }]));
    }
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

type OkBehaviour = Extract<FakeBehaviour, { kind: 'ok' }>;

function completionBody(behaviour: OkBehaviour, model: string, logprobs = false): Record<string, unknown> {
  const toolCalls = (behaviour.toolCalls ?? []).map((call, i) => ({
    id: call.id ?? `call_fake_${i}`, type: 'function', function: { name: call.name, arguments: argumentsText(call) },
  }));
  const body: Record<string, unknown> = {
    id: 'chatcmpl-fake', object: 'chat.completion', created: 0, model,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: behaviour.content ?? null, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
      finish_reason: behaviour.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
      logprobs: logprobs && behaviour.logprobs ? { content: behaviour.logprobs.map((logprob, i) => ({ token: `t${i}`, logprob, bytes: null, top_logprobs: [] })) } : null,
    }],
  };
  if (behaviour.usage) body.usage = wireUsage(behaviour.usage);
  return body;
}

function publicBatch(batch: FakeBatch): Omit<FakeBatch, 'polls'> {
  const { polls: _polls, ...rest } = batch;
  return rest;
}

/** The `file` part of a multipart/form-data body (enough of RFC 7578 for the Batch API's upload). */
function multipartFile(contentType: string, body: string): string | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (!boundary) return undefined;
  for (const part of body.split(`--${boundary[1] ?? boundary[2]}`)) {
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) continue;
    const head = part.slice(0, split);
    if (!/name="file"/.test(head)) continue;
    return part.slice(split + 4).replace(/\r\n$/, '');
  }
  return undefined;
}

function modelOf(body: unknown): string {
  return typeof body === 'object' && body !== null && 'model' in body && typeof body.model === 'string' ? body.model : 'unknown';
}

function wantsLogprobs(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'logprobs' in body && body.logprobs === true;
}

function includeUsage(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || !('stream_options' in body)) return false;
  const options = body.stream_options;
  return typeof options === 'object' && options !== null && 'include_usage' in options && options.include_usage === true;
}

function wireUsage(usage: { inputTokens: number; outputTokens: number }): Record<string, number> {
  return { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
}
