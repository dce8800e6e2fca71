/**
 * Every NATS subject and JetStream stream Keel uses. The version lives in the
 * subject (`keel.v1.…`); a breaking change to a message adds `keel.v2.…`.
 *
 * Work that must survive a crash is a JetStream work item (durable,
 * redelivered); a hop whose caller already holds a durable work item is a core
 * NATS request/reply with a timeout. See docs/architecture.md.
 */
export const Subjects = {
  /** JetStream, stream KEEL_TASKS: task submissions from outside (Nats-Msg-Id de-duplicates). */
  tasksSubmit: 'keel.v1.tasks.submit',
  /** Core NATS: live events of one task (the durable copy is in Postgres). */
  taskEvents: (taskId: string) => `keel.v1.tasks.${taskId}.events`,
  /** Request/reply (queue group `orchestrator`): a task and its newest events, for the approval console's timeline. */
  tasksTimeline: 'keel.v1.tasks.timeline',
  /** Core NATS broadcast: a task was cancelled; every orchestrator replica stops it at its next safe point. */
  tasksCancelled: 'keel.v1.tasks.cancelled',
  /** JetStream, stream KEEL_STEPS: one work item per task step. */
  stepsRun: 'keel.v1.steps.run',
  /** Request/reply: screen a text. */
  guardrailScreen: 'keel.v1.guardrail.screen',
  /** Request/reply: one model turn through the router. */
  routerComplete: 'keel.v1.router.complete',
  /** Request/reply: queue a model turn for the provider's batch API, or collect its result. */
  routerBatchSubmit: 'keel.v1.router.batch.submit',
  /** JetStream, stream KEEL_BATCHES: a batched model turn settled; the orchestrator resumes the task. */
  routerBatchSettled: 'keel.v1.router.batch.settled',
  /** Request/reply (queue group `router`): delete one user's cached answers (the orchestrator's memory deletion). */
  routerCacheForgetUser: 'keel.v1.router.cache.forget-user',
  /** Request/reply: execute a tool call (idempotent by key through the ledger). */
  toolsExecute: 'keel.v1.tools.execute',
  /** Request/reply: the tool specs (JSON Schemas) of an agent's tools. */
  toolsDescribe: 'keel.v1.tools.describe',
  /** Request/reply: risk and confidence policy for proposed tool calls; opens gates. */
  approvalsCheck: 'keel.v1.approvals.check',
  /** Request/reply (queue group `approval`): a task ended without its gates (cancelled, timed out); its pending gates are withdrawn. */
  approvalsWithdraw: 'keel.v1.approvals.withdraw',
  /** JetStream, stream KEEL_APPROVALS: a human decided a gate. */
  approvalsDecided: 'keel.v1.approvals.decided',
  /** Request/reply: verify an API key (the orchestrator owns keys). */
  authVerify: 'keel.v1.auth.verify',
  /** Request/reply (queue group = the answering service): that service's audit rows of one tenant (the orchestrator merges them). */
  auditQuery: (service: string) => `keel.v1.audit.query.${service}`,
  /** JetStream, stream KEEL_DLQ: dead letters, one subject per recording service. */
  deadLetter: (service: string) => `keel.v1.dlq.${service}`,
  deadLetterAll: 'keel.v1.dlq.>',
} as const;

export const Streams = {
  tasks: 'KEEL_TASKS',
  steps: 'KEEL_STEPS',
  approvals: 'KEEL_APPROVALS',
  batches: 'KEEL_BATCHES',
  deadLetters: 'KEEL_DLQ',
} as const;

/** Queue groups: one member of each group answers a request. */
export const QueueGroups = {
  orchestrator: 'orchestrator',
  router: 'router',
  guardrail: 'guardrail',
  toolExecutor: 'tool-executor',
  approval: 'approval',
} as const;

/** Message headers Keel sets besides the W3C `traceparent`/`tracestate`. */
export const Headers = {
  msgId: 'Nats-Msg-Id',
  tenant: 'Keel-Tenant',
  authorization: 'Authorization',
} as const;
