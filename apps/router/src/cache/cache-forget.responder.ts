import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { CacheForgetUserRequestSchema, QueueGroups, Subjects } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { DataSource } from '@keel/persistence';
import { LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { RouterAuditLog } from '../audit/audit-log';
import { RESPONSE_CACHE } from './response-cache.provider';
import type { ResponseCache } from './response-cache';

/**
 * `keel.v1.router.cache.forget-user` (request/reply, queue group `router`): the orchestrator's
 * deletion of a user's memory asks here first, so the prompts and answers cached in that user's
 * partition go with it. The rows and their `cache.user_forgotten` audit row commit together;
 * asking again is harmless (nothing left to delete).
 */
@Injectable()
export class CacheForgetResponder implements OnApplicationBootstrap {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(RESPONSE_CACHE) private readonly cache: ResponseCache,
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(RouterAuditLog) private readonly audit: RouterAuditLog,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.bus.serve({
      subject: Subjects.routerCacheForgetUser,
      queue: QueueGroups.router,
      schema: CacheForgetUserRequestSchema,
      handler: async (req) => {
        const deleted = await this.db.transaction(async (m) => {
          const n = await this.cache.forgetUser(req.tenant, req.userId, m);
          // Named like the orchestrator's `memory.deleted` row for the same request (target user:<id>).
          await this.audit.record(m, { tenant: req.tenant, actor: req.actor, action: 'cache.user_forgotten', target: `user:${req.userId}`, details: { deleted: n } });
          return n;
        });
        this.logger.info({ tenant: req.tenant, deleted }, 'a user\'s cached answers deleted');
        return { deleted };
      },
    });
  }
}
