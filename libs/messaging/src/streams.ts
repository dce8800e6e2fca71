import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { Streams, Subjects } from '@keel/contracts';

/**
 * Keel's JetStream streams, declared once. Every service that publishes to or
 * consumes from a stream ensures it at start (idempotently), so start order
 * never matters. Work queues delete a message when it is acked; the dead-letter
 * stream keeps everything for 30 days. Works on nats-server 2.9.
 */
export type StreamDef = Partial<StreamConfig> & { name: string; subjects: string[] };

const MiB = 1024 * 1024;
const day = 24 * 3600 * 1000;

export const STREAMS = {
  tasks: {
    name: Streams.tasks,
    subjects: [Subjects.tasksSubmit],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(10 * 60 * 1000),
    max_age: nanos(7 * day),
    max_msg_size: 2 * MiB,
    discard: DiscardPolicy.Old,
  },
  steps: {
    name: Streams.steps,
    subjects: [Subjects.stepsRun],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(10 * 60 * 1000),
    max_age: nanos(7 * day),
    max_msg_size: 64 * 1024,
    discard: DiscardPolicy.Old,
  },
  approvals: {
    name: Streams.approvals,
    subjects: [Subjects.approvalsDecided],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(10 * 60 * 1000),
    max_age: nanos(30 * day),
    max_msg_size: 256 * 1024,
    discard: DiscardPolicy.Old,
  },
  batches: {
    name: Streams.batches,
    subjects: [Subjects.routerBatchSettled],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(10 * 60 * 1000),
    max_age: nanos(7 * day),
    max_msg_size: 64 * 1024,
    discard: DiscardPolicy.Old,
  },
  deadLetters: {
    name: Streams.deadLetters,
    subjects: [Subjects.deadLetterAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(30 * day),
    max_bytes: 1024 * MiB,
    max_msg_size: 4 * MiB,
    discard: DiscardPolicy.Old,
  },
} satisfies Record<string, StreamDef>;
