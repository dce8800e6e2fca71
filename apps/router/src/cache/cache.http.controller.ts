import { Body, Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { z } from 'zod';
import { KeelError } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { DataSource } from '@keel/persistence';
import { LOGGER, RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { RouterAuditLog } from '../audit/audit-log';
import { RESPONSE_CACHE } from './response-cache.provider';
import type { ResponseCache } from './response-cache';

const InvalidateSchema = z.object({ agent: z.string().min(1).max(64).optional() }).strict();
const PURGE_EVERY_MS = 10 * 60_000;

/**
 * Operators drop cached answers of their own tenant (all, or one agent's),
 * e.g. after changing a prompt or learning an answer was wrong; expired rows
 * are purged in the background (they are never served either way).
 */
@Controller('v1/admin/cache')
export class CacheHttpController implements OnApplicationBootstrap, OnApplicationShutdown {
  private purger?: NodeJS.Timeout;

  constructor(
    @Inject(RESPONSE_CACHE) private readonly cache: ResponseCache, @Inject(LOGGER) private readonly logger: Logger,
    @Inject(DataSource) private readonly db: DataSource, @Inject(RouterAuditLog) private readonly audit: RouterAuditLog,
  ) {}

  onApplicationBootstrap(): void {
    this.purger = setInterval(() => void this.cache.purgeExpired().catch((err: unknown) => this.logger.warn({ err }, 'cache purge failed')), PURGE_EVERY_MS);
    this.purger.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.purger);
  }

  @Post('invalidate')
  @HttpCode(200)
  @RequireRoles('admin')
  async invalidate(@Req() req: AuthedRequest, @Body() body: unknown): Promise<{ deleted: number }> {
    const parsed = InvalidateSchema.safeParse(body ?? {});
    if (!parsed.success) throw new KeelError('invalid_request', `invalid cache invalidation: ${formatIssues(parsed.error)}`);
    const principal = req.principal!;
    const agent = parsed.data.agent;
    // The rows and their `cache.invalidated` audit row commit together.
    const deleted = await this.db.transaction(async (m) => {
      const n = await this.cache.invalidate({ tenant: principal.tenant, ...(agent ? { agent } : {}) }, m);
      await this.audit.record(m, { tenant: principal.tenant, actor: principal, action: 'cache.invalidated', target: agent ? `agent:${agent}` : 'all', details: { ...(agent ? { agent } : {}), deleted: n } });
      return n;
    });
    this.logger.info({ tenant: req.principal!.tenant, agent: parsed.data.agent, deleted }, 'response cache invalidated');
    return { deleted };
  }
}
