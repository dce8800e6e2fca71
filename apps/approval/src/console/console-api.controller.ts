import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Subjects, TaskTimelineSchema } from '@keel/contracts';
import type { TaskTimeline } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { ENV, PrincipalResolver, RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { GatesService } from '../gates/gates.service';
import type { GateView } from '../gates/gates.service';
import { PendingWatch } from './pending-watch.service';

export interface ConsoleEnv {
  KEEL_JAEGER_URL?: string;
}

export type GateTimeline = TaskTimeline & { gate: GateView; traceUrl: string | null };

const TIMELINE_TIMEOUT_MS = 5_000;
const KEEP_ALIVE_MS = 15_000;
/** An open stream re-checks its key this often, so a revoked key stops receiving (the resolver caches 10 s). */
const REVERIFY_MS = 30_000;

/**
 * The console's own API, beside the approvals API. Registered before
 * `ApprovalsHttpController` so `GET /v1/approvals/stream` is not taken for an
 * approval id.
 */
@Controller('v1/approvals')
export class ConsoleApiController {
  constructor(
    @Inject(GatesService) private readonly gates: GatesService,
    @Inject(PendingWatch) private readonly watch: PendingWatch,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(PrincipalResolver) private readonly resolver: PrincipalResolver,
    @Inject(ENV) private readonly env: ConsoleEnv,
  ) {}

  /**
   * Server-Sent Events: `event: pending` with `{pending, version}` at once and
   * whenever the caller's tenant's pending set changes. Authenticated like
   * every API call (`Authorization: Bearer`): the console reads it with
   * `fetch()` and a stream reader, not `EventSource` (which cannot send
   * headers), so the key never goes into a URL or a log.
   */
  @Get('stream')
  @RequireRoles('approver', 'viewer')
  stream(@Req() req: AuthedRequest, @Res() res: Response): void {
    const tenant = req.principal!.tenant;
    const key = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    res.status(200).setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-store');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 2000\n\n');

    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe();
      clearInterval(keepAlive);
      clearInterval(reverify);
      res.end();
    };
    const unsubscribe = this.watch.subscribe(tenant, (s) => {
      if (!done) res.write(`event: pending\ndata: ${JSON.stringify(s)}\n\n`);
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    const reverify = setInterval(() => {
      void this.resolver.resolve(key).then((p) => {
        if (p && p.tenant === tenant) return;
        if (!done) res.write('event: unauthorized\ndata: {}\n\n');
        finish();
      }).catch(() => undefined); // the resolver is unreachable: keep the stream, try again later
    }, REVERIFY_MS);
    req.on('close', finish);
  }

  /**
   * The gate's task for the console: the task (input, status, usage, trace
   * id) and its newest events, asked of the orchestrator over NATS
   * (`keel.v1.tasks.timeline`); this service never reads the orchestrator's
   * tables. Tenant-scoped through the gate.
   */
  @Get(':id/timeline')
  @RequireRoles('approver', 'viewer')
  async timeline(@Req() req: AuthedRequest, @Param('id') id: string): Promise<GateTimeline> {
    const tenant = req.principal!.tenant;
    const gate = await this.gates.get(tenant, id);
    const t = await this.bus.request(Subjects.tasksTimeline, { taskId: gate.taskId, tenant }, TaskTimelineSchema, { timeoutMs: TIMELINE_TIMEOUT_MS });
    const base = this.env.KEEL_JAEGER_URL?.replace(/\/+$/, '');
    const traceUrl = base && t.task.traceId && /^[0-9a-f]{32}$/i.test(t.task.traceId) ? `${base}/trace/${t.task.traceId}` : null;
    return { ...t, gate, traceUrl };
  }
}
