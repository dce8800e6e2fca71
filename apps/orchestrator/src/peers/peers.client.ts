import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import {
  ApprovalCheckResponseSchema, ApprovalWithdrawResponseSchema, BatchSubmitResponseSchema, CacheForgetUserResponseSchema, CompleteResponseSchema, ExecuteToolResponseSchema, ScreenResponseSchema, Subjects, ToolSpecSchema,
} from '@keel/contracts';
import type {
  ApprovalCheckRequest, ApprovalCheckResponse, ApprovalWithdrawRequest, BatchSubmitResponse, CacheForgetUserRequest, CompleteRequest, CompleteResponse, ExecuteToolRequest, ExecuteToolResponse,
  ScreenRequest, ScreenResponse, ToolSpec,
} from '@keel/contracts';
import { Bus } from '@keel/messaging';

/**
 * The orchestrator's calls to the other four services. Each is NATS
 * request/reply: the step that makes them is itself a durable JetStream work
 * item, so a lost reply is recovered by redelivering the step, and the callees
 * are idempotent (screening and policy are pure, tool calls go through the
 * ledger by idempotency key).
 */
const SCREEN_TIMEOUT_MS = 5_000;
const APPROVAL_TIMEOUT_MS = 5_000;
const BATCH_SUBMIT_TIMEOUT_MS = 10_000;
const REPLY_MARGIN_MS = 2_000;

@Injectable()
export class PeersClient {
  private readonly toolSpecs = new Map<string, { at: number; specs: ToolSpec[] }>();

  constructor(@Inject(Bus) private readonly bus: Bus) {}

  screen(req: ScreenRequest): Promise<ScreenResponse> {
    return this.bus.request(Subjects.guardrailScreen, req, ScreenResponseSchema, { timeoutMs: SCREEN_TIMEOUT_MS });
  }

  complete(req: CompleteRequest): Promise<CompleteResponse> {
    const timeoutMs = Math.max(1000, req.deadline - Date.now() + REPLY_MARGIN_MS);
    return this.bus.request(Subjects.routerComplete, req, CompleteResponseSchema, { timeoutMs });
  }

  /** Batch mode: queue the turn for the provider's batch API, or collect its result (idempotent per task step). */
  submitBatch(req: CompleteRequest): Promise<BatchSubmitResponse> {
    return this.bus.request(Subjects.routerBatchSubmit, req, BatchSubmitResponseSchema, { timeoutMs: BATCH_SUBMIT_TIMEOUT_MS });
  }

  execute(req: ExecuteToolRequest): Promise<ExecuteToolResponse> {
    return this.bus.request(Subjects.toolsExecute, req, ExecuteToolResponseSchema, { timeoutMs: req.timeoutMs + REPLY_MARGIN_MS });
  }

  checkApproval(req: ApprovalCheckRequest): Promise<ApprovalCheckResponse> {
    return this.bus.request(Subjects.approvalsCheck, req, ApprovalCheckResponseSchema, { timeoutMs: APPROVAL_TIMEOUT_MS });
  }

  /**
   * A task ended (cancelled, timed out) while gates of it may be pending: the approval service
   * withdraws them. Best effort: callers log a failure, and a gate missed here expires at its deadline.
   */
  async withdrawApprovals(req: ApprovalWithdrawRequest): Promise<number> {
    return (await this.bus.request(Subjects.approvalsWithdraw, req, ApprovalWithdrawResponseSchema, { timeoutMs: APPROVAL_TIMEOUT_MS })).withdrawn;
  }

  /** Deletes the answers the router cached for one user (part of deleting the user's memory); resolves the rows deleted. */
  async forgetUserCache(req: CacheForgetUserRequest): Promise<number> {
    return (await this.bus.request(Subjects.routerCacheForgetUser, req, CacheForgetUserResponseSchema, { timeoutMs: 10_000 })).deleted;
  }

  /** The JSON Schemas of an agent's tools, for the model; cached a minute (they change only with a deploy). */
  async describeTools(agent: string): Promise<ToolSpec[]> {
    const hit = this.toolSpecs.get(agent);
    if (hit && Date.now() - hit.at < 60_000) return hit.specs;
    const specs = await this.bus.request(Subjects.toolsDescribe, { agent }, z.array(ToolSpecSchema), { timeoutMs: 5_000 });
    this.toolSpecs.set(agent, { at: Date.now(), specs });
    return specs;
  }
}
