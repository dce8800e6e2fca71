import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { registry } from '@keel/telemetry';
import { ReadinessService } from './readiness.service';
import { OPENAPI_DOCUMENT } from '../tokens';

@Controller()
export class HealthController {
  constructor(
    private readonly readiness: ReadinessService,
    @Inject(OPENAPI_DOCUMENT) private readonly openapi: Record<string, unknown> | null,
  ) {}

  /** Alive: the process answers. Kubernetes restarts the pod when this fails. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready: NATS and Postgres reachable, migrations applied. Traffic stops when this fails. */
  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    const report = await this.readiness.check();
    res.status(report.ready ? 200 : 503).json(report);
  }

  @Get('metrics')
  async metrics(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  }

  @Get('openapi.json')
  document(@Res() res: Response): void {
    if (!this.openapi) {
      res.status(404).json({ error: { code: 'not_found', message: 'this service has no REST API document' } });
      return;
    }
    res.json(this.openapi);
  }
}
