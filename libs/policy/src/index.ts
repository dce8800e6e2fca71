export { decide, defaultTier, CONFIDENCE_AUTO, CONFIDENCE_REVIEW } from './risk.policy';
export type { PolicyAction, PolicyDecision } from './risk.policy';
export { classifyIntent, effectOf } from './intent.policy';
export type { TaskIntent, CallEffect, ToolProfile } from './intent.policy';
