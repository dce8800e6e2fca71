import { Initial1764000000000 } from './1764000000000-initial';
import { BatchMode1764000000100 } from './1764000000100-batch-mode';
import { Memory1764000000200 } from './1764000000200-memory';
import { AuditLog1764000000300 } from './1764000000300-audit-log';
import { Experiments1764000000400 } from './1764000000400-experiments';
import { Replay1764000000500 } from './1764000000500-replay';
import { AgentPolicies1764000000600 } from './1764000000600-agent-policies';

/** Every orchestrator migration, in order (the service and the integration tests apply the same list). */
export const ORCHESTRATOR_MIGRATIONS = [Initial1764000000000, BatchMode1764000000100, Memory1764000000200, AuditLog1764000000300, Experiments1764000000400, Replay1764000000500, AgentPolicies1764000000600];
