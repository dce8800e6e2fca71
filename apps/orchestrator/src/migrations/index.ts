import { Initial1764000000000 } from './1764000000000-initial';
import { BatchMode1764000000100 } from './1764000000100-batch-mode';
import { Memory1764000000200 } from './1764000000200-memory';
import { AuditLog1764000000300 } from './1764000000300-audit-log';

/** Every orchestrator migration, in order (the service and the integration tests apply the same list). */
export const ORCHESTRATOR_MIGRATIONS = [Initial1764000000000, BatchMode1764000000100, Memory1764000000200, AuditLog1764000000300];
