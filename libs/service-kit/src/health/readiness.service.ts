import { Inject, Injectable } from '@nestjs/common';
import { Bus } from '@keel/messaging';
import { DataSource, databaseReachable, migrationsApplied } from '@keel/persistence';

export interface ReadinessReport {
  ready: boolean;
  checks: { nats: boolean; postgres: boolean; migrations: boolean; shuttingDown: boolean };
  /** What a service adds about optional dependencies (e.g. a tool-executor's MCP servers); it does not change `ready`. */
  details?: Record<string, unknown>;
}

@Injectable()
export class ReadinessService {
  private cached?: { at: number; report: ReadinessReport };
  shuttingDown = false;
  private readonly details = new Map<string, () => unknown>();

  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(DataSource) private readonly ds: DataSource) {}

  /** Adds `details[name]` to every report, e.g. dependencies that are down but do not stop the service from serving. */
  addDetail(name: string, report: () => unknown): void {
    this.details.set(name, report);
    this.cached = undefined;
  }

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
    const report: ReadinessReport = { ready: checks.nats && checks.postgres && checks.migrations && !checks.shuttingDown, checks };
    if (this.details.size > 0) report.details = Object.fromEntries([...this.details].map(([name, detail]) => [name, detail()]));
    this.cached = { at: Date.now(), report };
    return report;
  }
}
