import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { FeedbackSchema, KeelError, SubmitTaskSchema } from '@keel/contracts';
import type { TaskEvent, TaskView } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { TaskEventsService, TERMINAL_EVENTS } from '../events/task-events.service';
import { TasksService } from './tasks.service';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

@Controller('v1/tasks')
export class TasksHttpController {
  constructor(
    @Inject(TasksService) private readonly tasks: TasksService,
    @Inject(TaskEventsService) private readonly live: TaskEventsService,
  ) {}

  @Post()
  @HttpCode(202)
  @RequireRoles('submitter')
  async submit(@Req() req: AuthedRequest, @Body() body: unknown, @Headers('idempotency-key') key?: string): Promise<{ id: string; status: string }> {
    requireJson(req);
    const parsed = SubmitTaskSchema.safeParse(body);
    if (!parsed.success) throw new KeelError('invalid_request', `invalid task: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw new KeelError('invalid_request', 'Idempotency-Key must be 1–200 visible ASCII characters');
    const { id, status } = await this.tasks.submit(parsed.data, { tenant: req.principal!.tenant, source: 'rest', idempotencyKey: key });
    return { id, status };
  }

  @Get(':id')
  @RequireRoles('viewer', 'submitter', 'approver')
  get(@Req() req: AuthedRequest, @Param('id') id: string): Promise<TaskView> {
    return this.tasks.get(req.principal!.tenant, id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @RequireRoles('submitter')
  cancel(@Req() req: AuthedRequest, @Param('id') id: string): Promise<{ id: string; status: string }> {
    return this.tasks.cancel(req.principal!.tenant, id, req.principal!.keyId);
  }

  @Post(':id/feedback')
  @HttpCode(204)
  @RequireRoles('viewer', 'submitter')
  async feedback(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown): Promise<void> {
    requireJson(req);
    const parsed = FeedbackSchema.safeParse(body);
    if (!parsed.success) throw new KeelError('invalid_request', `invalid feedback: ${formatIssues(parsed.error)}`);
    await this.tasks.feedback(req.principal!.tenant, id, parsed.data);
  }

  /**
   * Server-Sent Events: the stored events after `Last-Event-ID` (or all), then
   * live ones, ending after the terminal event. Subscribing before reading the
   * table and de-duplicating by sequence means no event falls in between.
   */
  @Get(':id/events')
  @RequireRoles('viewer', 'submitter', 'approver')
  async events(@Req() req: AuthedRequest, @Param('id') id: string, @Res() res: Response): Promise<void> {
    const task = await this.tasks.get(req.principal!.tenant, id);
    res.status(200).setHeader('Content-Type', 'text/event-stream');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();

    let lastSeq = Number(req.headers['last-event-id'] ?? 0) || 0;
    let done = false;
    const buffered: TaskEvent[] = [];
    let replaying = true;
    const write = (e: TaskEvent) => {
      if (done || e.seq <= lastSeq) return;
      lastSeq = e.seq;
      res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      if (TERMINAL_EVENTS.has(e.type)) finish();
    };
    const sub = this.live.subscribe(task.id, (e) => (replaying ? buffered.push(e) : write(e)));
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(keepAlive);
      sub.unsubscribe();
      res.end();
    };
    req.on('close', finish);
    for (const e of await this.tasks.eventsAfter(task.id, lastSeq)) write(e);
    replaying = false;
    for (const e of buffered.sort((a, b) => a.seq - b.seq)) write(e);
    // A gap in live events (core NATS is at-most-once) is filled from the table.
    if (!done) {
      const poll = setInterval(() => {
        if (done) return clearInterval(poll);
        void this.tasks.eventsAfter(task.id, lastSeq).then((es) => es.forEach(write)).catch(() => undefined);
      }, 2000);
      req.on('close', () => clearInterval(poll));
    }
  }
}

function requireJson(req: Request): void {
  if (!req.is('application/json')) {
    throw new KeelError('unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
  }
}
