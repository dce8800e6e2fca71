import type { BudgetAlert } from './budget.ledger';

/**
 * Alerts to a webhook (Slack-compatible `{text}` plus the details), sent in
 * the background with 3 tries at 1 s / 2 s / 4 s: an unreachable webhook must
 * not slow down or fail the model call that raised the alert.
 */
export function notifyWebhook(url: string | undefined, payload: { text: string } & Record<string, unknown>, onError: (err: unknown) => void, delays = [1000, 2000, 4000]): void {
  if (!url) return;
  const body = JSON.stringify(payload);
  const send = async (attempt: number): Promise<void> => {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
    } catch (err) {
      if (attempt >= delays.length) return onError(err);
      await new Promise((r) => setTimeout(r, delays[attempt]));
      return send(attempt + 1);
    }
  };
  void send(0);
}

export function notifyBudgetAlert(url: string | undefined, alert: BudgetAlert, onError: (err: unknown) => void): void {
  notifyWebhook(url, {
    text: `Keel budget alert: ${alert.scope} has spent $${alert.spentUsd.toFixed(4)} of $${alert.limitUsd.toFixed(2)} for ${alert.period} (${Math.round(alert.threshold * 100)} % threshold).`,
    alert,
  }, onError);
}
