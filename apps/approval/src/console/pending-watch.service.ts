import { Inject, Injectable } from '@nestjs/common';
import type { OnModuleDestroy } from '@nestjs/common';
import { DataSource } from '@keel/persistence';
import { LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';

/** What the console's live stream pushes: the pending count and a fingerprint of the pending set. */
export interface PendingSnapshot {
  pending: number;
  /** Changes whenever a pending gate is opened, decided, re-opened or otherwise changed. */
  version: string;
}

type Listener = (s: PendingSnapshot) => void;

interface Watch {
  listeners: Set<Listener>;
  last?: PendingSnapshot;
  timer: NodeJS.Timeout;
  busy: boolean;
}

/** How often a tenant's pending set is checked while at least one console listens. */
export const PENDING_POLL_MS = 1000;

/**
 * Change feed for the console's live pending count (`GET /v1/approvals/stream`).
 * One query per tenant per second while at least one console of that tenant is
 * connected to this replica, however many are, and none when nobody listens.
 * Polling the table (rather than an in-process hook on decisions) sees every
 * change whichever replica made it: gates opened by a check, decisions,
 * re-opens, and anything a sweep does. The fingerprint is the md5 of the
 * pending rows' full text, so it also follows columns added later.
 */
@Injectable()
export class PendingWatch implements OnModuleDestroy {
  private readonly watches = new Map<string, Watch>();

  constructor(@Inject(DataSource) private readonly db: DataSource, @Inject(LOGGER) private readonly logger: Logger) {}

  /** Calls `listener` with the current snapshot now (or as soon as known), then on every change; returns the unsubscribe. */
  subscribe(tenant: string, listener: Listener): () => void {
    let w = this.watches.get(tenant);
    if (!w) {
      const watch: Watch = { listeners: new Set(), busy: false, timer: setInterval(() => void this.tick(tenant, watch), PENDING_POLL_MS) };
      watch.timer.unref();
      this.watches.set(tenant, watch);
      w = watch;
      void this.tick(tenant, watch);
    } else if (w.last) {
      listener(w.last);
    }
    w.listeners.add(listener);
    const watch = w;
    return () => {
      watch.listeners.delete(listener);
      if (watch.listeners.size === 0 && this.watches.get(tenant) === watch) {
        clearInterval(watch.timer);
        this.watches.delete(tenant);
      }
    };
  }

  async snapshot(tenant: string): Promise<PendingSnapshot> {
    const rows: { pending: number; version: string }[] = await this.db.query(
      `SELECT count(*)::int AS pending, md5(coalesce(string_agg(g::text, ',' ORDER BY g.id), '')) AS version
         FROM approval.gates g WHERE g.tenant = $1 AND g.status = 'pending'`,
      [tenant],
    );
    return { pending: rows[0]?.pending ?? 0, version: rows[0]?.version ?? '' };
  }

  private async tick(tenant: string, w: Watch): Promise<void> {
    if (w.busy) return; // a slow query is not stacked
    w.busy = true;
    try {
      const s = await this.snapshot(tenant);
      if (w.last && w.last.version === s.version && w.last.pending === s.pending) return;
      w.last = s;
      for (const l of w.listeners) l(s);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, tenant }, 'pending count for the console failed; retrying');
    } finally {
      w.busy = false;
    }
  }

  onModuleDestroy(): void {
    for (const w of this.watches.values()) clearInterval(w.timer);
    this.watches.clear();
  }
}
