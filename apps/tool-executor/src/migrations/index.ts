import { Ledger1764000000002 } from './1764000000002-ledger';
import { Degradation1764000000003 } from './1764000000003-degradation';
import { AuditLog1764000000004 } from './1764000000004-audit-log';

/** Every tool-executor migration, in order (the service and the integration tests apply the same list). */
export const TOOL_EXECUTOR_MIGRATIONS = [Ledger1764000000002, Degradation1764000000003, AuditLog1764000000004];
