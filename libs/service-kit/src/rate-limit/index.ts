export { TokenBuckets } from './token-bucket';
export type { BucketLimit, Clock } from './token-bucket';
export { IntakeThrottle, RateLimiter, rateLimitedError, rateLimitSettingsFromEnv } from './rate-limiter';
export type { RateDecision, RateLimitSettings, RateRequest, RateScope, TenantLimits, TenantOverride } from './rate-limiter';
export { TaskSubmission, TASK_SUBMISSION_KEY } from './task-submission';
