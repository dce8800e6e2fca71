export { Subjects, Streams, QueueGroups, Headers } from './subjects/subjects';
export { KeelError, retryable } from './errors/keel-error';
export type { ErrorCode, ErrorBody, KeelErrorOptions } from './errors/keel-error';
export {
  TASK_STATUSES, TaskStatusSchema, TERMINAL_STATUSES, ACTIVE_STATUSES, isTerminal, TASK_MODES, TaskModeSchema, SubmitTaskSchema, FeedbackSchema, taskIdFor,
} from './tasks/tasks';
export type { TaskStatus, TaskMode, SubmitTask, Feedback, Usage, TaskView, TaskEvent } from './tasks/tasks';
export { TIMELINE_EVENT_LIMIT, TaskTimelineRequestSchema, TaskTimelineSchema, TaskViewSchema, TaskEventSchema } from './tasks/timeline';
export type { TaskTimelineRequest, TaskTimeline } from './tasks/timeline';
export { StepWorkSchema, stepMsgId, gateResumeSuffix } from './steps/steps';
export type { StepWork } from './steps/steps';
export {
  ToolCallSchema, ChatMessageSchema, UsageSchema, ScriptTurnSchema, ScriptSchema, ToolSpecSchema,
  CompleteRequestSchema, CompleteResponseSchema, AttemptSchema, BatchSubmitResponseSchema, BatchItemSettledSchema,
  CacheForgetUserRequestSchema, CacheForgetUserResponseSchema,
} from './router/router';
export type { ToolCall, ChatMessage, ScriptTurn, ToolSpec, CompleteRequest, CompleteResponse, Attempt, BatchSubmitResponse, BatchItemSettled, CacheForgetUserRequest } from './router/router';
export {
  SCREEN_CHANNELS, ScreenChannelSchema, ScreenRequestSchema, ScreenResponseSchema, VerdictSchema,
} from './guardrail/guardrail';
export type { ScreenChannel, ScreenRequest, ScreenResponse, Verdict } from './guardrail/guardrail';
export { ExecuteToolRequestSchema, ExecuteToolResponseSchema, DescribeToolsRequestSchema } from './tools/tools';
export type { ExecuteToolRequest, ExecuteToolResponse, DescribeToolsRequest } from './tools/tools';
export {
  RiskTierSchema, ApprovalCheckRequestSchema, ApprovalCheckResponseSchema, CallDecisionSchema, INPUT_REVIEW_TOOL,
  ApprovalDecidedSchema, DecisionBodySchema, ApprovalWithdrawRequestSchema, ApprovalWithdrawResponseSchema,
} from './approvals/approvals';
export type { RiskTier, ApprovalCheckRequest, ApprovalCheckResponse, CallDecision, ApprovalDecided, ApprovalDecisionKind, ApprovalWithdrawRequest } from './approvals/approvals';
export { argsHash, decisionSignature, verifyDecisionSignature, signatureInput, resolveSigningKey, SigningKeyEnvSchema } from './approvals/signing';
export type { SignedDecision } from './approvals/signing';
export { ROLES, RoleSchema, VerifyKeyRequestSchema, VerifyKeyResponseSchema } from './auth/auth';
export type { Role, Principal, VerifyKeyResponse } from './auth/auth';
export { DEAD_LETTER_REASONS, DeadLetterSchema } from './dead-letters/dead-letters';
export type { DeadLetter } from './dead-letters/dead-letters';
export {
  AgentSchema, AgentToolSchema, RoutingSchema, AgentApprovalsSchema, DEFAULT_APPROVALS, approvalSettings, DEFAULT_LIMITS, HttpToolSchema, ToolRetrySchema, RESERVED_TOOL_NAMES, TOOL_NAME_PATTERN, HTTP_TOOL_METHODS, AgentMemorySchema, DEFAULT_MEMORY,
  ExperimentSchema, ExperimentVariantSchema, withVariant,
} from './agents/agents';
export type { Agent, AgentTool, Routing, HttpTool, ToolRetry, AgentApprovals, AgentMemory, Experiment, ExperimentVariant } from './agents/agents';
export { AUDIT_SERVICES, AUDIT_PEERS, AUDIT_QUERY_MAX_LIMIT, AuditQueryRequestSchema, AuditItemSchema, AuditQueryResponseSchema } from './audit/audit';
export type { AuditService, AuditQueryRequest, AuditItem, AuditQueryResponse } from './audit/audit';
