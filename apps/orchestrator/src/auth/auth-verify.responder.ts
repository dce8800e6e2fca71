import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { QueueGroups, Subjects, VerifyKeyRequestSchema } from '@keel/contracts';
import type { VerifyKeyResponse } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { ENV } from '@keel/service-kit';
import { ApiKeysRepository } from './api-keys.repository';
import { DbPrincipalResolver } from './db-principal.resolver';

/** The orchestrator owns API keys; other services verify a key by asking here (`keel.v1.auth.verify`). */
@Injectable()
export class AuthVerifyResponder implements OnApplicationBootstrap {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(DbPrincipalResolver) private readonly resolver: DbPrincipalResolver,
    @Inject(ApiKeysRepository) private readonly keys: ApiKeysRepository,
    @Inject(ENV) private readonly env: { KEEL_BOOTSTRAP_API_KEY?: string },
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.env.KEEL_BOOTSTRAP_API_KEY) await this.keys.ensureBootstrapKey(this.env.KEEL_BOOTSTRAP_API_KEY);
    this.bus.serve({
      subject: Subjects.authVerify,
      queue: QueueGroups.orchestrator,
      schema: VerifyKeyRequestSchema,
      handler: async ({ key }): Promise<VerifyKeyResponse> => ({ principal: await this.resolver.resolve(key) }),
    });
  }
}
