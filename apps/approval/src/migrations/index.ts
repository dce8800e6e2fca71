import { Gates1764000000001 } from './1764000000001-gates';
import { Deadlines1764000000002 } from './1764000000002-deadlines';
import { ResumeContext1764000000003 } from './1764000000003-resume-context';
import { AuditTrace1764000000004 } from './1764000000004-audit-trace';
import { Withdrawn1764000000005 } from './1764000000005-withdrawn';

/** Every approval migration, in order (the service and the integration tests apply the same list). */
export const APPROVAL_MIGRATIONS = [Gates1764000000001, Deadlines1764000000002, ResumeContext1764000000003, AuditTrace1764000000004, Withdrawn1764000000005];
