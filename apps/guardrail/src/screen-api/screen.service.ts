import { Injectable } from '@nestjs/common';
import type { ScreenRequest, ScreenResponse } from '@keel/contracts';
import { counter, histogram, SpanKind, withSpan } from '@keel/telemetry';
import { screen } from '../screening';

const verdicts = counter('keel_guardrail_verdicts_total', 'Screening verdicts by channel and verdict', ['channel', 'verdict']);
const seconds = histogram('keel_guardrail_screen_seconds', 'Time to screen one text', ['channel'], [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05]);

/** One screening path for NATS and HTTP, so operators testing a policy get exactly what the orchestrator gets. */
@Injectable()
export class ScreenService {
  async screen(req: ScreenRequest): Promise<ScreenResponse> {
    return withSpan('guardrail.screen', { kind: SpanKind.INTERNAL, attributes: { 'keel.guardrail.channel': req.channel, ...(req.taskId ? { 'keel.task.id': req.taskId } : {}) } }, async (span) => {
      const started = performance.now();
      const res = screen(req);
      seconds.observe({ channel: req.channel }, (performance.now() - started) / 1000);
      verdicts.inc({ channel: req.channel, verdict: res.verdict });
      span.setAttributes({ 'keel.guardrail.verdict': res.verdict, 'keel.guardrail.score': res.score, 'keel.guardrail.categories': res.categories });
      return res;
    });
  }
}
