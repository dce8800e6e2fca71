import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { QueueGroups, ScreenRequestSchema, Subjects } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { ScreenService } from './screen.service';

/** `keel.v1.guardrail.screen` (request/reply, queue group `guardrail`). */
@Injectable()
export class ScreenMessageController implements OnApplicationBootstrap {
  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(ScreenService) private readonly screening: ScreenService) {}

  onApplicationBootstrap(): void {
    this.bus.serve({ subject: Subjects.guardrailScreen, queue: QueueGroups.guardrail, schema: ScreenRequestSchema, handler: (req) => this.screening.screen(req) });
  }
}
