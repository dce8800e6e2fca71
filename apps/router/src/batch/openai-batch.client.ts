import { z } from 'zod';
import { joinUrl, statusError, transportError } from '../providers/http';
import type { OpenAiRequestBody } from '../providers/openai.provider';

/** The chat-completions endpoint every batch Keel submits targets. */
export const BATCH_ENDPOINT = '/v1/chat/completions';
/** OpenAI's only completion window; most batches finish far sooner. */
export const COMPLETION_WINDOW = '24h';
const REQUEST_TIMEOUT_MS = 60_000;

/** One line of a batch input file. */
export interface BatchInputLine {
  custom_id: string;
  method: 'POST';
  url: typeof BATCH_ENDPOINT;
  body: OpenAiRequestBody;
}

export const BATCH_STATUSES = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'] as const;
/** Statuses after which the provider will not change the batch any more. */
export const FINAL_BATCH_STATUSES: readonly BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled'];

const BatchObjectSchema = z.object({
  id: z.string().min(1),
  status: z.enum(BATCH_STATUSES),
  output_file_id: z.string().nullish(),
  error_file_id: z.string().nullish(),
  errors: z.object({ data: z.array(z.object({ code: z.string().nullish(), message: z.string().nullish() })).nullish() }).nullish(),
  request_counts: z.object({ total: z.number(), completed: z.number(), failed: z.number() }).nullish(),
});
export type BatchObject = z.infer<typeof BatchObjectSchema>;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** One line of a batch output or error file. */
export const BatchOutputLineSchema = z.object({
  custom_id: z.string(),
  response: z.object({ status_code: z.number().int(), body: z.unknown() }).nullish(),
  error: z.object({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});
export type BatchOutputLine = z.infer<typeof BatchOutputLineSchema>;

export interface OpenAiBatchClientOptions {
  /** The provider id, for error messages. */
  id: string;
  /** Up to and including the version, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  apiKey?: string;
}

/**
 * The OpenAI Batch API (files + batches): upload a JSONL input file, create
 * a batch over it, poll it, download its output and error files. Every call
 * is short; the waiting happens between polls, not in a held request.
 */
export class OpenAiBatchClient {
  constructor(private readonly options: OpenAiBatchClientOptions) {}

  get providerId(): string {
    return this.options.id;
  }

  /** Uploads the lines as a `purpose=batch` file and creates a batch over it. */
  async submit(lines: readonly BatchInputLine[], metadata: Record<string, string> = {}): Promise<{ batch: BatchObject; inputFileId: string }> {
    const form = new FormData();
    form.append('purpose', 'batch');
    const jsonl = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    form.append('file', new Blob([jsonl], { type: 'application/jsonl' }), 'keel-batch.jsonl');
    const file = z.object({ id: z.string().min(1) }).parse(await this.send('POST', 'files', form));
    const batch = BatchObjectSchema.parse(await this.send('POST', 'batches', JSON.stringify({
      input_file_id: file.id, endpoint: BATCH_ENDPOINT, completion_window: COMPLETION_WINDOW, metadata,
    })));
    return { batch, inputFileId: file.id };
  }

  async retrieve(batchId: string): Promise<BatchObject> {
    return BatchObjectSchema.parse(await this.send('GET', `batches/${encodeURIComponent(batchId)}`));
  }

  /** The lines of an output or error file; a line that does not parse is skipped (its item stays unsettled and is reported). */
  async lines(fileId: string): Promise<BatchOutputLine[]> {
    const text = await this.send('GET', `files/${encodeURIComponent(fileId)}/content`, undefined, 'text');
    const out: BatchOutputLine[] = [];
    for (const line of (text as string).split('\n')) {
      if (line.trim() === '') continue;
      try {
        const parsed = BatchOutputLineSchema.safeParse(JSON.parse(line));
        if (parsed.success) out.push(parsed.data);
      } catch {
        // not JSON: skipped, see above
      }
    }
    return out;
  }

  private async send(method: 'GET' | 'POST', path: string, body?: FormData | string, as: 'json' | 'text' = 'json'): Promise<unknown> {
    const headers: Record<string, string> = { accept: as === 'json' ? 'application/json' : '*/*' };
    if (typeof body === 'string') headers['content-type'] = 'application/json';
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let res: Response;
    try {
      res = await fetch(joinUrl(this.options.baseUrl, path), { method, headers, body, signal });
    } catch (err) {
      throw transportError(this.options.id, err, signal, `${method} /${path} failed`);
    }
    if (!res.ok) throw await statusError(this.options.id, res, signal);
    return as === 'json' ? res.json() : res.text();
  }
}
