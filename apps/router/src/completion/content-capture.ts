import { ScreenResponseSchema, Subjects } from '@keel/contracts';
import type { CompleteRequest, CompleteResponse } from '@keel/contracts';
import type { Bus } from '@keel/messaging';
import type { Span } from '@keel/telemetry';
import { renderPrompt } from '../providers/render-prompt';

const MAX_CAPTURED = 16_384;

/**
 * Prompt and answer content on the `chat` span, for debugging: off by default
 * (KEEL_CAPTURE_CONTENT), and when on, every text goes through the guardrail's
 * output screen first, so PII and secrets reach the trace store redacted. If
 * the guardrail cannot answer, nothing is captured rather than the raw text.
 */
export async function captureContent(bus: Bus, span: Span, req: CompleteRequest, res: CompleteResponse): Promise<void> {
  const redact = async (text: string): Promise<string | undefined> => {
    try {
      const r = await bus.request(Subjects.guardrailScreen, { text: text.slice(0, MAX_CAPTURED), channel: 'output', tenant: req.tenant, taskId: req.taskId }, ScreenResponseSchema, { timeoutMs: 2000 });
      return r.verdict === 'block' ? '[withheld by the guardrail]' : (r.redacted ?? text.slice(0, MAX_CAPTURED));
    } catch {
      return undefined;
    }
  };
  const answer = res.content ?? JSON.stringify(res.toolCalls);
  const [input, output] = await Promise.all([redact(renderPrompt(req.messages)), redact(answer)]);
  if (input !== undefined) span.setAttribute('gen_ai.input.messages', input);
  if (output !== undefined) span.setAttribute('gen_ai.output.messages', output);
}
