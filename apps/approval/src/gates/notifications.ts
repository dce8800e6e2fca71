import type { Gate, NewNotification } from './gates.repository';

export type GateEvent = 'gate.opened' | 'gate.escalated' | 'gate.expired';

const MAX_ARGS = 500;

/** The console link of a gate, when `KEEL_APPROVAL_BASE_URL` is set. */
export const gateLink = (baseUrl: string | undefined, gateId: string): string | undefined =>
  baseUrl ? `${baseUrl.replace(/\/+$/, '')}/#${gateId}` : undefined;

/** The arguments as compact JSON, cut to a length a chat message can carry. */
export function argumentsSummary(args: Record<string, unknown>): string {
  const json = JSON.stringify(args);
  return json.length > MAX_ARGS ? `${json.slice(0, MAX_ARGS)}… (${json.length} chars)` : json;
}

/** Slack's mrkdwn control characters, so arguments and reasons cannot inject links or mentions. */
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A Slack-compatible incoming-webhook body (`{text, blocks}`; tools that read
 * only `text` get the whole message there): tool, arguments summary, risk,
 * reason and the console link.
 */
export function webhookPayload(event: GateEvent, g: Gate, baseUrl: string | undefined, extra: { group?: string; reason?: string } = {}): Record<string, unknown> {
  const link = gateLink(baseUrl, g.id);
  const headline = event === 'gate.opened'
    ? `Approval needed: ${g.tool} (risk ${g.tier})`
    : event === 'gate.escalated'
      ? `Approval escalated to ${extra.group ?? 'the next group'}: ${g.tool} (risk ${g.tier})`
      : `Approval timed out: ${g.tool} did not run`;
  const fields = [
    `*Tool:* ${esc(g.tool)}`,
    `*Risk:* ${g.tier}`,
    `*Arguments:* \`${esc(argumentsSummary(g.arguments))}\``,
    `*Reason:* ${esc(extra.reason ?? g.reason)}`,
    `*Task:* ${esc(g.taskId)} (step ${g.step}, agent ${esc(g.agent)})`,
    ...(g.expiresAt && event !== 'gate.expired' ? [`*Deadline:* ${g.expiresAt.toISOString()}`] : []),
  ];
  const text = [headline, ...fields.map((f) => f.replace(/\*/g, '')), ...(link ? [`Open: ${link}`] : [])].join('\n');
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${esc(headline)}*\n${fields.join('\n')}` } },
      ...(link ? [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in the console' }, url: link }] }] : []),
    ],
  };
}

/** The outbox row for a webhook post about a gate, if a webhook is configured. */
export function webhookRow(url: string | undefined, event: GateEvent, g: Gate, baseUrl: string | undefined, extra: { group?: string; reason?: string } = {}): NewNotification[] {
  if (!url) return [];
  return [{ tenant: g.tenant, gateId: g.id, event, channel: 'webhook', target: url, payload: webhookPayload(event, g, baseUrl, extra) }];
}
