import { startTelemetry } from '@keel/telemetry';

// Imported first by main.ts: the SDK must be registered before anything creates spans.
startTelemetry('approval');
