export { startNats, NATS_SERVER_BIN } from './nats-server';
export type { TestNats } from './nats-server';
export { createTestDatabase, assertTestDatabase, TEST_PG_SERVER } from './database';
export type { TestDatabase } from './database';
export { freePort, waitForPort, waitFor } from './net';
export { startOtlpReceiver } from './otlp-receiver';
export type { OtlpReceiver, ReceivedSpan } from './otlp-receiver';
export { startKeel, SERVICES } from './keel-stack';
export type { KeelStack, KeelStackOptions, ServiceName } from './keel-stack';
