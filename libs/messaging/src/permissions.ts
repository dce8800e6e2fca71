import { Streams, Subjects } from '@keel/contracts';

/**
 * What each service may do on NATS: one user per service with only the
 * subjects it needs (docs/nats-security.md). The nats-server configuration in
 * deploy/ is generated from this map (`node tools/nats-config/dist/main.js`),
 * and an end-to-end test runs all five services against a server configured
 * with it, so the map and the code cannot drift apart silently.
 *
 * Conventions that make the lists short:
 * - request/reply servers answer through `allow_responses` (the server grants
 *   a reply permission per request), so no service may publish to `_INBOX.>`;
 * - each service's own inboxes are `_INBOX_<service>.…` (Bus.connect sets the
 *   prefix), so a service cannot subscribe to another's replies;
 * - JetStream API subjects are granted per stream the service touches.
 */
export type KeelService = 'orchestrator' | 'approval' | 'router' | 'guardrail' | 'tool-executor';

export interface ServicePermissions {
  publish: string[];
  subscribe: string[];
  /** The service answers requests (queue-group servers). */
  responds: boolean;
}

interface Needs {
  /** Core subjects the service publishes to (JetStream publishes included). */
  publish: string[];
  /** Core subjects it subscribes to (request servers, broadcasts). */
  subscribe: string[];
  /** Request/reply subjects it calls. */
  request: string[];
  /** Streams it creates or checks at start and publishes to. */
  streams: string[];
  /** Streams it reads with durable pull consumers. */
  consumes: string[];
}

/** Every service records dead letters and may be asked to verify keys through the orchestrator. */
const COMMON: Needs = { publish: [], subscribe: [], request: [], streams: [Streams.deadLetters], consumes: [] };

const NEEDS: Record<KeelService, Needs> = {
  orchestrator: {
    publish: [Subjects.stepsRun, 'keel.v1.tasks.*.events', Subjects.tasksCancelled],
    subscribe: [Subjects.authVerify, Subjects.tasksTimeline, Subjects.tasksCancelled, 'keel.v1.tasks.*.events'],
    request: [Subjects.guardrailScreen, Subjects.routerComplete, Subjects.routerBatchSubmit, Subjects.routerCacheForgetUser, Subjects.toolsExecute, Subjects.toolsDescribe, Subjects.approvalsCheck, Subjects.approvalsWithdraw,
      // GET /v1/admin/audit asks each service for its own audit rows.
      Subjects.auditQuery('approval'), Subjects.auditQuery('tool-executor'), Subjects.auditQuery('router')],
    streams: [Streams.tasks, Streams.steps, Streams.approvals, Streams.batches],
    consumes: [Streams.tasks, Streams.steps, Streams.approvals, Streams.batches],
  },
  approval: {
    publish: [Subjects.approvalsDecided, Subjects.stepsRun],
    subscribe: [Subjects.approvalsCheck, Subjects.approvalsWithdraw, Subjects.auditQuery('approval')],
    request: [Subjects.authVerify, Subjects.tasksTimeline],
    streams: [Streams.approvals, Streams.steps],
    consumes: [],
  },
  router: {
    publish: [Subjects.routerBatchSettled],
    subscribe: [Subjects.routerComplete, Subjects.routerBatchSubmit, Subjects.routerCacheForgetUser, Subjects.auditQuery('router')],
    request: [Subjects.authVerify, Subjects.guardrailScreen],
    streams: [Streams.batches],
    consumes: [],
  },
  guardrail: {
    publish: [],
    subscribe: [Subjects.guardrailScreen],
    request: [Subjects.authVerify],
    streams: [],
    consumes: [],
  },
  'tool-executor': {
    publish: [],
    subscribe: [Subjects.toolsExecute, Subjects.toolsDescribe, Subjects.auditQuery('tool-executor')],
    request: [Subjects.authVerify],
    streams: [],
    consumes: [],
  },
};

export const KEEL_SERVICES = Object.keys(NEEDS) as KeelService[];

/** The inbox prefix of a service's connection (replies and JetStream acks come back on it). */
export const inboxPrefix = (service: string): string => `_INBOX_${service.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/** The publish and subscribe permissions of one service's NATS user. */
export function permissionsOf(service: KeelService): ServicePermissions {
  const needs = NEEDS[service];
  const streams = unique([...COMMON.streams, ...needs.streams]);
  const publish = [
    ...needs.publish, ...needs.request, Subjects.deadLetter(service),
    '$JS.API.INFO',
    ...streams.flatMap((s) => [`$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.CREATE.${s}`, `$JS.API.STREAM.UPDATE.${s}`, `$JS.API.STREAM.MSG.GET.${s}`, `$JS.API.DIRECT.GET.${s}`, `$JS.API.DIRECT.GET.${s}.>`]),
    ...needs.consumes.flatMap((s) => [
      `$JS.API.CONSUMER.CREATE.${s}`, `$JS.API.CONSUMER.CREATE.${s}.>`, `$JS.API.CONSUMER.DURABLE.CREATE.${s}.>`,
      `$JS.API.CONSUMER.INFO.${s}.>`, `$JS.API.CONSUMER.MSG.NEXT.${s}.>`, `$JS.ACK.${s}.>`,
    ]),
  ];
  const subscribe = [
    ...needs.subscribe, `${inboxPrefix(service)}.>`,
    // A delivery that crashed its consumer is found through the server's advisory (libs/messaging bus.ts).
    ...needs.consumes.map((s) => `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${s}.>`),
  ];
  return { publish: unique(publish), subscribe: unique(subscribe), responds: needs.subscribe.some((s) => s !== Subjects.tasksCancelled && !s.includes('*')) };
}

/**
 * The `authorization` block of nats-server.conf for the five services (and an
 * optional read-only operator user for `keel dead-letters`). Passwords are
 * given as nats-server config variables (`$KEEL_NATS_<SERVICE>_PASSWORD`,
 * resolved from the server's environment, i.e. a Kubernetes Secret) unless
 * literal values are passed (tests).
 */
export function natsAuthorizationConfig(passwords?: Partial<Record<KeelService | 'operator' | 'submitter', string>>): string {
  const password = (user: string) => {
    const literal = passwords?.[user as KeelService];
    return literal !== undefined ? JSON.stringify(literal) : `$KEEL_NATS_${user.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
  };
  const list = (items: string[]) => `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;
  const users = KEEL_SERVICES.map((service) => {
    const p = permissionsOf(service);
    return [
      `    {`,
      `      user: ${JSON.stringify(service)}`,
      `      password: ${password(service)}`,
      `      permissions: {`,
      `        publish: { allow: ${list(p.publish)} }`,
      `        subscribe: { allow: ${list(p.subscribe)} }`,
      ...(p.responds ? ['        allow_responses: true'] : []),
      `      }`,
      `    }`,
    ].join('\n');
  });
  // `keel dead-letters`: reads KEEL_DLQ, nothing else.
  users.push([
    `    {`,
    `      user: "operator"`,
    `      password: ${password('operator')}`,
    `      permissions: {`,
    `        publish: { allow: ${list(['$JS.API.INFO', `$JS.API.STREAM.INFO.${Streams.deadLetters}`, `$JS.API.STREAM.MSG.GET.${Streams.deadLetters}`, `$JS.API.DIRECT.GET.${Streams.deadLetters}`, `$JS.API.DIRECT.GET.${Streams.deadLetters}.>`, `$JS.API.CONSUMER.CREATE.${Streams.deadLetters}`, `$JS.API.CONSUMER.CREATE.${Streams.deadLetters}.>`, `$JS.API.CONSUMER.INFO.${Streams.deadLetters}.>`, `$JS.API.CONSUMER.MSG.NEXT.${Streams.deadLetters}.>`, `$JS.API.CONSUMER.DELETE.${Streams.deadLetters}.>`])} }`,
    `        subscribe: { allow: ${list([`${inboxPrefix('operator')}.>`, '_INBOX.>'])} }`,
    `      }`,
    `    }`,
  ].join('\n'));
  // Clients that submit tasks over NATS (design.md): publish to the intake, read the task's live events.
  users.push([
    `    {`,
    `      user: "submitter"`,
    `      password: ${password('submitter')}`,
    `      permissions: {`,
    `        publish: { allow: ${list([Subjects.tasksSubmit, '$JS.API.INFO', `$JS.API.STREAM.INFO.${Streams.tasks}`])} }`,
    `        subscribe: { allow: ${list(['keel.v1.tasks.*.events', '_INBOX.>'])} }`,
    `      }`,
    `    }`,
  ].join('\n'));
  return `authorization {\n  users: [\n${users.join('\n')}\n  ]\n}\n`;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
