import { UsageBudgets1764000000010 } from './1764000000010-usage-budgets';
import { Cache1764000000020 } from './1764000000020-cache';
import { Batch1764000000030 } from './1764000000030-batch';
import { AuditOverrides1764000000040 } from './1764000000040-audit-overrides';
import { CacheUser1764000000050 } from './1764000000050-cache-user';

/** Every router migration, in order (the service and the integration tests apply the same list). */
export const ROUTER_MIGRATIONS = [UsageBudgets1764000000010, Cache1764000000020, Batch1764000000030, AuditOverrides1764000000040, CacheUser1764000000050];
