import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '@keel/messaging';
import { DataSource, databaseReachable, migrationsApplied } from '@keel/persistence';

export interface ReadinessReport {
  ready: boolean;
  checks: { nats: boolean; postgres: boolean; migrations: boolean; shuttingDown: boolean };
}

@Injectable()
export class ReadinessService {
  private cached?: { at: number; report: ReadinessReport };
  shuttingDown = false;

  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(DataSource) private readonly ds: DataSource) {}

  async check(): Promise<ReadinessReport> {
    // Probes come every few seconds from several places; one check per second is plenty.
    if (this.cached && Date.now() - this.cached.at < 1000 && !this.shuttingDown) return this.cached.report;
    const postgres = await databaseReachable(this.ds);
    const checks = {
      nats: this.bus.isConnected(),
      postgres,
      migrations: postgres && (await migrationsApplied(this.ds)),
      shuttingDown: this.shuttingDown,
    };
    const report = { ready: checks.nats && checks.postgres && checks.migrations && !checks.shuttingDown, checks };
    this.cached = { at: Date.now(), report };
    return report;
  }
}
