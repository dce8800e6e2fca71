import { Inject, Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { DataSource } from '@keel/persistence';
import { registry } from '@keel/telemetry';

/**
 * The approval backlog, read from the gates table when Prometheus scrapes
 * (one small grouped query per scrape), so the alert and the dashboard see
 * exactly what waits for a person.
 */
@Injectable()
export class BacklogMetrics {
  constructor(@Inject(DataSource) private readonly db: DataSource) {
    const sample = () => this.sample();
    if (!registry.getSingleMetric('keel_approvals_pending')) {
      new Gauge({ name: 'keel_approvals_pending', help: 'Approval gates and reviews waiting for a person, per tenant and kind', labelNames: ['tenant', 'kind'], registers: [registry], collect: sample });
      new Gauge({ name: 'keel_approvals_oldest_pending_seconds', help: 'Age of the oldest gate waiting for a person, per tenant', labelNames: ['tenant'], registers: [registry] });
    }
  }

  async sample(): Promise<void> {
    const pending = registry.getSingleMetric('keel_approvals_pending') as Gauge<'tenant' | 'kind'>;
    const oldest = registry.getSingleMetric('keel_approvals_oldest_pending_seconds') as Gauge<'tenant'>;
    let rows: { tenant: string; kind: string; n: number; oldest_s: number }[];
    try {
      rows = await this.db.query(
        `SELECT tenant, kind, count(*)::int AS n, extract(epoch from now() - min(created_at))::float8 AS oldest_s
           FROM approval.gates WHERE status = 'pending' GROUP BY tenant, kind`,
      );
    } catch {
      return; // Postgres unreachable: keep the last values rather than fail the whole scrape.
    }
    pending.reset();
    oldest.reset();
    for (const r of rows) {
      pending.set({ tenant: r.tenant, kind: r.kind }, r.n);
      if (r.kind === 'approve') oldest.set({ tenant: r.tenant }, r.oldest_s);
    }
  }
}
