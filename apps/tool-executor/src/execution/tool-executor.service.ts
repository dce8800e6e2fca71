import { Inject, Injectable, Optional } from '@nestjs/common';
import { ConfigError } from '@keel/config';
import { KeelError } from '@keel/contracts';
import type { Agent, AgentTool, ExecuteToolRequest, ExecuteToolResponse, ToolSpec } from '@keel/contracts';
import { CircuitBreakers } from '@keel/resilience';
import { AGENTS } from '@keel/service-kit';
import { counter, currentTraceId, histogram, SpanKind, withSpan } from '@keel/telemetry';
import { argsHash, LedgerRepository } from '../ledger/ledger.repository';
import type { Degraded, ToolAudit } from '../ledger/ledger.repository';
import { MCP_NAME_PREFIX } from '../mcp/mcp.tools';
import { declaredHttpTool, MAX_RETRY_BACKOFF_MS, NO_RETRY, ToolRegistry } from '../tools';
import type { ToolDefinition } from '../tools';

const toolCalls = counter('keel_tool_calls_total', 'Tool calls by tool and outcome (ok, replayed, cached, degraded_<rung> or the error code)', ['tool', 'outcome']);
const toolSeconds = histogram('keel_tool_call_seconds', 'Tool execution time, retries included (replays and cache hits excluded)', ['tool']);
const ladder = counter('keel_tool_degraded_total', 'Failed tool calls answered by the degradation ladder, by rung', ['tool', 'rung']);
const cacheHits = counter('keel_tool_cache_hits_total', 'Read calls answered from the result cache (the tool did not run)', ['tool']);
const retries = counter('keel_tool_retries_total', 'Retries of retryable tool failures', ['tool']);

export const TOOL_REGISTRY = Symbol('keel:tool-registry');

/** The agent may declare a tool stricter than it is (an API that ignores Idempotency-Key), never laxer. */
export function effectiveIdempotency(tool: ToolDefinition, grant: AgentTool): ToolDefinition['idempotency'] {
  if (tool.idempotency === 'pure') return 'pure';
  return grant.idempotency === 'not_idempotent' ? 'not_idempotent' : tool.idempotency;
}

/** Failures an alternate tool or a cached result can stand in for; a caller's mistake is not one of them. They also count against a breaker. */
const DEGRADABLE = new Set(['tool_error', 'timeout', 'unavailable']);

export const TOOL_BREAKERS = Symbol('keel:tool-breakers');
export const DEFAULT_TOOL_BREAKER = { failureThreshold: 5, cooldownMs: 30_000 };

/**
 * What a breaker guards: a remote dependency. `http_request` per host (one dead
 * site must not cut off the others), HTTP and MCP tools per tool; local
 * built-ins (calculator, run_code) have none: their failures are the input's.
 */
export function breakerKey(tool: ToolDefinition, args: unknown): string | undefined {
  if (tool.name === 'http_request') {
    const url = (args as { url?: unknown } | null)?.url;
    try {
      return typeof url === 'string' ? `http_request ${new URL(url).host}` : undefined;
    } catch {
      return undefined;
    }
  }
  return tool.source === 'http' || tool.source === 'mcp' ? tool.name : undefined;
}

type Outcome = { ok: boolean; result?: unknown; error?: { code: string; message: string }; durationMs: number; degraded?: Degraded; cached?: { ageMs: number } };

/**
 * The call only reads (by the tool's own rule for these arguments, and the agent file does not
 * say otherwise): its result may be served from, and stored in, the result cache.
 */
function readOnlyCall(tool: ToolDefinition, args: unknown, grant: AgentTool): boolean {
  const own = tool.permissionFor ? tool.permissionFor(args) : tool.permission;
  const declared = grant.effect ?? grant.permission;
  return own === 'read' && (declared === undefined || declared === 'read');
}

const PERMISSION_RANK = { read: 0, write: 1, destructive: 2 } as const;

/** What this call may do: the tool's own rule for these arguments, or the agent file's declaration when stricter. */
export function callPermission(tool: ToolDefinition, args: unknown, grant: AgentTool): ToolDefinition['permission'] {
  const own = tool.permissionFor ? tool.permissionFor(args) : tool.permission;
  const declared = grant.effect ?? grant.permission;
  return declared !== undefined && PERMISSION_RANK[declared] > PERMISSION_RANK[own] ? declared : own;
}

/**
 * A call the audit log records (docs/audit.md): it may write or destroy, its risk tier is
 * `approve`, or a person let it run through an approval gate.
 */
export function highRiskCall(tool: ToolDefinition, args: unknown, grant: AgentTool, approvalGateId?: string): boolean {
  return callPermission(tool, args, grant) !== 'read' || (grant.risk ?? tool.defaultRisk) === 'approve' || approvalGateId !== undefined;
}

/** How a call ended, for its audit row: no result (it may hold secrets), only the error code and how it was answered. */
function outcomeDetails(o: { ok: boolean; error?: { code: string } | null; durationMs: number; degraded?: Degraded | null; cached?: { ageMs: number } }): Record<string, unknown> {
  return {
    ok: o.ok, durationMs: Math.round(o.durationMs),
    ...(o.error ? { error: o.error.code } : {}), ...(o.degraded ? { degraded: o.degraded.rung } : {}), ...(o.cached ? { cached: true } : {}),
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Executes one tool call exactly once per idempotency key. Pure tools run
 * without the ledger; others are claimed in the ledger first, run, then
 * settled. A key seen again returns the settled result (`replayed: true`); a
 * key left `started` by a dead executor is in doubt: a tool idempotent by key
 * is invoked again with the same key (the remote side de-duplicates), any
 * other tool is refused with `outcome_unknown` so a person decides, unless
 * the request says a person already did (`forceInDoubt`).
 *
 * When a tool fails, the first rungs of the degradation ladder are tried here:
 * the agent's declared alternate tool with the same arguments, then the last
 * good result of the same call if the agent allows one of that age.
 *
 * Registry metadata applied here: the tool's own timeout (a call gets the
 * smaller of it and the request's), its retry policy for retryable failures
 * (never for a not_idempotent call), its default alternate tool, and the
 * result cache of read calls (answers carry `cached: {ageMs}`). Each agent's
 * HTTP tools (declared in its file) live in a registry of its own on top of
 * the shared one (built-in and MCP tools).
 */
@Injectable()
export class ToolExecutorService {
  /** Same key arriving twice at this replica while the first is still running: share the run. */
  private readonly inflight = new Map<string, Promise<ExecuteToolResponse>>();
  /** Agents with HTTP tools declared in their files: those tools over the shared registry. */
  private readonly agentRegistries = new Map<string, ToolRegistry>();

  constructor(
    @Inject(TOOL_REGISTRY) private readonly registry: ToolRegistry,
    @Inject(LedgerRepository) private readonly ledger: LedgerRepository,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
    @Optional() @Inject(TOOL_BREAKERS) private readonly breakers: CircuitBreakers = new CircuitBreakers(DEFAULT_TOOL_BREAKER),
  ) {
    const problems: string[] = [];
    for (const agent of agents.values()) {
      const declared: ToolDefinition[] = [];
      for (const entry of agent.tools.filter((t) => t.http)) {
        try {
          declared.push(declaredHttpTool(entry));
        } catch (err) {
          problems.push(`agent "${agent.name}": ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (declared.length === 0) continue;
      try {
        this.agentRegistries.set(agent.name, registry.child(declared));
      } catch (err) {
        problems.push(`agent "${agent.name}": ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (problems.length > 0) throw new ConfigError(problems);
  }

  private registryFor(agent: Agent): ToolRegistry {
    return this.agentRegistries.get(agent.name) ?? this.registry;
  }

  describe(agentName: string): ToolSpec[] {
    const agent = this.requireAgent(agentName);
    const registry = this.registryFor(agent);
    return agent.tools.flatMap((t) => {
      const def = registry.get(t.name);
      return def ? [{
        name: def.name, description: def.description, parameters: def.parameters, idempotency: effectiveIdempotency(def, t),
        permission: def.permission, risk: def.defaultRisk,
      }] : [];
    });
  }

  execute(req: ExecuteToolRequest): Promise<ExecuteToolResponse> {
    const running = this.inflight.get(req.idempotencyKey);
    if (running) return running;
    const p = this.run(req).finally(() => this.inflight.delete(req.idempotencyKey));
    this.inflight.set(req.idempotencyKey, p);
    return p;
  }

  private async run(req: ExecuteToolRequest): Promise<ExecuteToolResponse> {
    return withSpan(`execute_tool ${req.name}`, {
      kind: SpanKind.INTERNAL,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': req.name, 'gen_ai.tool.call.id': req.idempotencyKey, 'keel.task.id': req.taskId, 'keel.step': req.step },
    }, async (span) => {
      const agent = this.requireAgent(req.agent);
      const registry = this.registryFor(agent);
      const resolved = this.resolve(agent, registry, req.name, req.arguments);
      if ('refusal' in resolved) return this.refuse(req, resolved.refusal.code, resolved.refusal.message);
      const { grant, tool, args } = resolved;

      const hash = argsHash(req.arguments);
      const idempotency = effectiveIdempotency(tool, grant);
      // High-risk calls leave audit rows, written with the ledger claim and settle they record (never the arguments).
      const audit: ToolAudit | undefined = highRiskCall(tool, args, grant, req.approvalGateId)
        ? {
          tenant: req.tenant, actor: `task:${req.taskId}`, target: req.idempotencyKey, traceId: currentTraceId() ?? null,
          details: {
            agent: req.agent, tool: req.name, idempotencyKey: req.idempotencyKey, argsHash: hash, step: req.step,
            permission: callPermission(tool, args, grant), risk: grant.risk ?? tool.defaultRisk, ...(req.approvalGateId ? { gateId: req.approvalGateId } : {}),
          },
        }
        : undefined;
      if (idempotency !== 'pure') {
        const entry = await this.ledger.claim(req.idempotencyKey, { tenant: req.tenant, taskId: req.taskId, step: req.step, tool: req.name, argsHash: hash }, audit);
        if (entry.state !== 'claimed' && entry.argsHash !== hash) {
          throw new KeelError('conflict', `idempotency key ${req.idempotencyKey} was already used for different arguments`);
        }
        if (entry.state === 'settled') {
          span.setAttribute('keel.tool.replayed', true);
          toolCalls.inc({ tool: req.name, outcome: 'replayed' });
          return { ok: entry.ok, result: entry.ok ? entry.result : undefined, error: entry.error ?? undefined, replayed: true, durationMs: entry.durationMs, degraded: entry.degraded ?? undefined };
        }
        // Replay (docs/replay.md): the recorded call at this position answers when it matches; the tool does not run.
        if (req.replayOf) {
          const recorded = await this.fromRecording(req, hash, audit);
          if (recorded) {
            span.setAttribute('keel.tool.replayed_from', req.replayOf.idempotencyKey);
            return recorded;
          }
        }
        if (entry.state === 'in_doubt') {
          if (idempotency !== 'idempotent_by_key' && !req.forceInDoubt) {
            if (audit) await this.ledger.audit('tool.outcome_unknown', { ...audit, details: { ...audit.details, attempts: entry.attempts } });
            throw new KeelError('outcome_unknown', `the outcome of ${req.name} for key ${req.idempotencyKey} is unknown (an executor stopped during the call) and the tool is not idempotent; a person must decide whether to run it again`, { details: { attempts: entry.attempts, tool: req.name, arguments: req.arguments } });
          }
          span.setAttribute('keel.tool.in_doubt_retry', true);
          await this.ledger.retryInDoubt(req.idempotencyKey, audit && { ...audit, details: { ...audit.details, inDoubtRetry: true, ...(req.forceInDoubt ? { forced: true } : {}) } });
        }
      } else if (audit) {
        // A pure tool has no ledger row: its audit rows stand alone.
        await this.ledger.audit('tool.called', audit);
      }

      // Result cache: a read call with the same arguments answered recently is not run again.
      const ttl = grant.resultCacheTtlMs ?? tool.resultCacheTtlMs ?? 0;
      const cacheable = ttl > 0 && readOnlyCall(tool, args, grant);
      let outcome: Outcome | undefined;
      if (cacheable) {
        const hit = await this.ledger.recall(req.tenant, req.name, hash, ttl);
        if (hit) {
          cacheHits.inc({ tool: req.name });
          span.setAttribute('keel.tool.cache_age_ms', hit.ageMs);
          outcome = { ok: true, result: hit.result, durationMs: 0, cached: { ageMs: hit.ageMs } };
        }
      }
      if (!outcome) {
        // An open breaker skips a dependency that keeps failing: straight to the alternate or the cached result.
        const guard = breakerKey(tool, args);
        if (guard !== undefined && !this.breakers.allow(guard)) {
          span.setAttribute('keel.tool.breaker', 'open');
          outcome = { ok: false, error: { code: 'unavailable', message: `${req.name} is failing (circuit breaker open for ${guard}); not called` }, durationMs: 0 };
        } else {
          outcome = await this.invoke(tool, args, grant, req.idempotencyKey, req.timeoutMs, idempotency);
          if (guard !== undefined) {
            if (outcome.ok) this.breakers.success(guard);
            else if (DEGRADABLE.has(outcome.error!.code)) this.breakers.failure(guard);
          }
        }
        if (!outcome.ok && DEGRADABLE.has(outcome.error!.code)) outcome = await this.degrade(req, agent, registry, grant, tool, hash, outcome);
        else if (outcome.ok && (grant.cacheTtlMs || cacheable)) await this.ledger.remember(req.tenant, req.name, hash, outcome.result);
      }

      const settledAudit = audit && { ...audit, details: { ...audit.details, ...outcomeDetails(outcome) } };
      if (idempotency !== 'pure') await this.ledger.settle(req.idempotencyKey, outcome, settledAudit);
      else if (settledAudit) await this.ledger.audit(outcome.ok ? 'tool.succeeded' : 'tool.failed', settledAudit);
      toolCalls.inc({ tool: req.name, outcome: outcome.cached ? 'cached' : outcome.degraded ? `degraded_${outcome.degraded.rung}` : outcome.ok ? 'ok' : outcome.error!.code });
      span.setAttribute('keel.tool.ok', outcome.ok);
      if (outcome.degraded) span.setAttribute('keel.tool.degraded', outcome.degraded.rung);
      return { ok: outcome.ok, result: outcome.result, error: outcome.error, replayed: false, durationMs: outcome.durationMs, degraded: outcome.degraded, cached: outcome.cached };
    });
  }

  /**
   * A replay task's call whose position (step, index) in the recorded task holds a settled call of the
   * same tenant, tool and arguments: that result, recorded under this call's own key too (so a
   * redelivery, or a replay of this replay, finds it). Else undefined: the call runs for real.
   * Safe for a key of ours left `started`: a matching recording means this call never ran the tool.
   */
  private async fromRecording(req: ExecuteToolRequest, hash: string, audit?: ToolAudit): Promise<ExecuteToolResponse | undefined> {
    const from = req.replayOf!.idempotencyKey;
    const r = await this.ledger.recorded(from, req.tenant);
    if (!r || r.tool !== req.name || r.argsHash !== hash) return undefined;
    const outcome = { ok: r.ok, result: r.ok ? r.result : undefined, error: r.error ?? undefined, durationMs: r.durationMs, degraded: r.degraded ?? undefined };
    await this.ledger.settle(req.idempotencyKey, outcome, audit && { ...audit, details: { ...audit.details, ...outcomeDetails(outcome), replayedFrom: from } });
    toolCalls.inc({ tool: req.name, outcome: 'replayed' });
    return { ...outcome, replayed: true, replayedFrom: from };
  }

  private resolve(agent: Agent, registry: ToolRegistry, name: string, raw: unknown): { grant: AgentTool; tool: ToolDefinition; args: unknown } | { refusal: { code: string; message: string } } {
    const grant = agent.tools.find((t) => t.name === name);
    if (!grant) return { refusal: { code: 'tool_not_allowed', message: `agent "${agent.name}" may not use the tool "${name}"; allowed: ${agent.tools.map((t) => t.name).join(', ') || 'none'}` } };
    const tool = registry.get(name);
    if (!tool) {
      const hint = name.startsWith(MCP_NAME_PREFIX) ? ' (an MCP tool: its server is not configured, has not connected yet, or does not list it)' : '';
      return { refusal: { code: 'tool_not_allowed', message: `no tool named "${name}" is installed${hint}` } };
    }
    try {
      return { grant, tool, args: registry.parseArgs(name, raw) };
    } catch (err) {
      return { refusal: { code: 'validation_failed', message: KeelError.wrap(err).message } };
    }
  }

  /**
   * Runs the tool within one time limit (the request's, or the tool's own if smaller); a
   * failure the tool marks retryable is tried again per its retry policy while time is left,
   * unless the call is not idempotent.
   */
  private async invoke(tool: ToolDefinition, args: unknown, grant: AgentTool, key: string, requestTimeoutMs: number, idempotency: ToolDefinition['idempotency']): Promise<Outcome> {
    const timeoutMs = Math.min(requestTimeoutMs, tool.timeoutMs ?? requestTimeoutMs);
    const policy = idempotency === 'not_idempotent' ? NO_RETRY : (grant.retry ?? tool.retry ?? NO_RETRY);
    const started = performance.now();
    const deadline = Date.now() + timeoutMs;
    const controller = new AbortController();
    const timedOut = new KeelError('timeout', `${tool.name} did not finish within ${timeoutMs} ms`);
    const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
    const failed = (e: KeelError): Outcome => ({ ok: false, error: { code: e.code, message: e.message }, durationMs: performance.now() - started });
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          // A retry gets what is left of the one limit.
          const limit = attempt === 1 ? timeoutMs : Math.max(1, deadline - Date.now());
          const result = await tool.execute(args, { idempotencyKey: key, allow: grant.allow ?? [], timeoutMs: limit, signal: controller.signal });
          return { ok: true, result, durationMs: performance.now() - started };
        } catch (err) {
          if (controller.signal.aborted) return failed(KeelError.wrap(controller.signal.reason));
          // The tool's own timer (set to the same limit) may fire a moment before ours: still a timeout.
          if (Date.now() >= deadline) return failed(timedOut);
          const e = KeelError.wrap(err, 'tool_error');
          const delay = Math.min(MAX_RETRY_BACKOFF_MS, policy.backoffMs * 2 ** (attempt - 1));
          if (!e.retryable || attempt >= policy.attempts || Date.now() + delay >= deadline) return failed(e);
          retries.inc({ tool: tool.name });
          await sleep(delay, controller.signal);
          if (controller.signal.aborted) return failed(KeelError.wrap(controller.signal.reason));
        }
      }
    } finally {
      clearTimeout(timer);
      toolSeconds.observe({ tool: tool.name }, (performance.now() - started) / 1000);
    }
  }

  /** Rungs 1 and 2 of the ladder; the orchestrator owns rungs 3 (model's own knowledge) and 4 (refusal). */
  private async degrade(req: ExecuteToolRequest, agent: Agent, registry: ToolRegistry, grant: AgentTool, tool: ToolDefinition, hash: string, failed: Outcome): Promise<Outcome> {
    const cause = failed.error!;
    const fallback = grant.fallback ?? tool.fallback;
    if (fallback) {
      const alt = this.resolve(agent, registry, fallback, req.arguments);
      if (!('refusal' in alt)) {
        // The alternate gets its own key so its side effect is de-duplicated on its own.
        const outcome = await this.invoke(alt.tool, alt.args, alt.grant, `${req.idempotencyKey}~${alt.tool.name}`, req.timeoutMs, effectiveIdempotency(alt.tool, alt.grant));
        if (outcome.ok) {
          ladder.inc({ tool: req.name, rung: 'alternate_tool' });
          return { ...outcome, durationMs: failed.durationMs + outcome.durationMs, degraded: { rung: 'alternate_tool', tool: alt.tool.name, cause } };
        }
      }
    }
    if (grant.cacheTtlMs) {
      const cached = await this.ledger.recall(req.tenant, req.name, hash, grant.cacheTtlMs);
      if (cached) {
        ladder.inc({ tool: req.name, rung: 'cached_result' });
        return { ok: true, result: cached.result, durationMs: failed.durationMs, degraded: { rung: 'cached_result', ageMs: cached.ageMs, cause } };
      }
    }
    return failed;
  }

  private refuse(req: ExecuteToolRequest, code: string, message: string): ExecuteToolResponse {
    toolCalls.inc({ tool: req.name, outcome: code });
    return { ok: false, error: { code, message }, replayed: false, durationMs: 0 };
  }

  private requireAgent(name: string): Agent {
    const agent = this.agents.get(name);
    if (!agent) throw new KeelError('invalid_request', `agent "${name}" is not loaded on this tool-executor`);
    return agent;
  }
}
