import { Inject, Injectable } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import type { Agent, AgentTool, ExecuteToolRequest, ExecuteToolResponse, ToolSpec } from '@keel/contracts';
import { AGENTS } from '@keel/service-kit';
import { counter, histogram, SpanKind, withSpan } from '@keel/telemetry';
import { argsHash, LedgerRepository } from '../ledger/ledger.repository';
import type { Degraded } from '../ledger/ledger.repository';
import { ToolRegistry } from '../tools';
import type { ToolDefinition } from '../tools';

const toolCalls = counter('keel_tool_calls_total', 'Tool calls by tool and outcome', ['tool', 'outcome']);
const toolSeconds = histogram('keel_tool_call_seconds', 'Tool execution time (replays excluded)', ['tool']);
const ladder = counter('keel_tool_degraded_total', 'Failed tool calls answered by the degradation ladder, by rung', ['tool', 'rung']);

export const TOOL_REGISTRY = Symbol('keel:tool-registry');

/** Failures an alternate tool or a cached result can stand in for; a caller's mistake is not one of them. */
/** The agent may declare a tool stricter than it is (an API that ignores Idempotency-Key), never laxer. */
export function effectiveIdempotency(tool: ToolDefinition, grant: AgentTool): ToolDefinition['idempotency'] {
  if (tool.idempotency === 'pure') return 'pure';
  return grant.idempotency === 'not_idempotent' ? 'not_idempotent' : tool.idempotency;
}

const DEGRADABLE = new Set(['tool_error', 'timeout', 'unavailable']);

type Outcome = { ok: boolean; result?: unknown; error?: { code: string; message: string }; durationMs: number; degraded?: Degraded };

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
 */
@Injectable()
export class ToolExecutorService {
  /** Same key arriving twice at this replica while the first is still running: share the run. */
  private readonly inflight = new Map<string, Promise<ExecuteToolResponse>>();

  constructor(
    @Inject(TOOL_REGISTRY) private readonly registry: ToolRegistry,
    @Inject(LedgerRepository) private readonly ledger: LedgerRepository,
    @Inject(AGENTS) private readonly agents: Map<string, Agent>,
  ) {}

  describe(agentName: string): ToolSpec[] {
    const agent = this.requireAgent(agentName);
    return agent.tools.flatMap((t) => {
      const def = this.registry.get(t.name);
      return def ? [{ name: def.name, description: def.description, parameters: def.parameters, idempotency: effectiveIdempotency(def, t) }] : [];
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
      const resolved = this.resolve(agent, req.name, req.arguments);
      if ('refusal' in resolved) return this.refuse(req, resolved.refusal.code, resolved.refusal.message);
      const { grant, tool, args } = resolved;

      const hash = argsHash(req.arguments);
      const idempotency = effectiveIdempotency(tool, grant);
      if (idempotency !== 'pure') {
        const entry = await this.ledger.claim(req.idempotencyKey, { tenant: req.tenant, taskId: req.taskId, step: req.step, tool: req.name, argsHash: hash });
        if (entry.state !== 'claimed' && entry.argsHash !== hash) {
          throw new KeelError('conflict', `idempotency key ${req.idempotencyKey} was already used for different arguments`);
        }
        if (entry.state === 'settled') {
          span.setAttribute('keel.tool.replayed', true);
          toolCalls.inc({ tool: req.name, outcome: 'replayed' });
          return { ok: entry.ok, result: entry.ok ? entry.result : undefined, error: entry.error ?? undefined, replayed: true, durationMs: entry.durationMs, degraded: entry.degraded ?? undefined };
        }
        if (entry.state === 'in_doubt') {
          if (idempotency !== 'idempotent_by_key' && !req.forceInDoubt) {
            throw new KeelError('outcome_unknown', `the outcome of ${req.name} for key ${req.idempotencyKey} is unknown (an executor stopped during the call) and the tool is not idempotent; a person must decide whether to run it again`, { details: { attempts: entry.attempts, tool: req.name, arguments: req.arguments } });
          }
          span.setAttribute('keel.tool.in_doubt_retry', true);
          await this.ledger.retryInDoubt(req.idempotencyKey);
        }
      }

      let outcome = await this.invoke(tool, args, grant, req.idempotencyKey, req.timeoutMs);
      if (!outcome.ok && DEGRADABLE.has(outcome.error!.code)) outcome = await this.degrade(req, agent, grant, hash, outcome);
      else if (outcome.ok && grant.cacheTtlMs) await this.ledger.remember(req.tenant, req.name, hash, outcome.result);

      if (idempotency !== 'pure') await this.ledger.settle(req.idempotencyKey, outcome);
      toolCalls.inc({ tool: req.name, outcome: outcome.degraded ? `degraded_${outcome.degraded.rung}` : outcome.ok ? 'ok' : outcome.error!.code });
      span.setAttribute('keel.tool.ok', outcome.ok);
      if (outcome.degraded) span.setAttribute('keel.tool.degraded', outcome.degraded.rung);
      return { ok: outcome.ok, result: outcome.result, error: outcome.error, replayed: false, durationMs: outcome.durationMs, degraded: outcome.degraded };
    });
  }

  private resolve(agent: Agent, name: string, raw: unknown): { grant: AgentTool; tool: ToolDefinition; args: unknown } | { refusal: { code: string; message: string } } {
    const grant = agent.tools.find((t) => t.name === name);
    if (!grant) return { refusal: { code: 'tool_not_allowed', message: `agent "${agent.name}" may not use the tool "${name}"; allowed: ${agent.tools.map((t) => t.name).join(', ') || 'none'}` } };
    const tool = this.registry.get(name);
    if (!tool) return { refusal: { code: 'tool_not_allowed', message: `no tool named "${name}" is installed` } };
    try {
      return { grant, tool, args: this.registry.parseArgs(name, raw) };
    } catch (err) {
      return { refusal: { code: 'validation_failed', message: KeelError.wrap(err).message } };
    }
  }

  private async invoke(tool: ToolDefinition, args: unknown, grant: AgentTool, key: string, timeoutMs: number): Promise<Outcome> {
    const started = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new KeelError('timeout', `${tool.name} did not finish within ${timeoutMs} ms`)), timeoutMs);
    try {
      const result = await tool.execute(args, { idempotencyKey: key, allow: grant.allow ?? [], timeoutMs, signal: controller.signal });
      return { ok: true, result, durationMs: performance.now() - started };
    } catch (err) {
      const e = controller.signal.aborted ? KeelError.wrap(controller.signal.reason) : KeelError.wrap(err, 'tool_error');
      return { ok: false, error: { code: e.code, message: e.message }, durationMs: performance.now() - started };
    } finally {
      clearTimeout(timer);
      toolSeconds.observe({ tool: tool.name }, (performance.now() - started) / 1000);
    }
  }

  /** Rungs 1 and 2 of the ladder; the orchestrator owns rungs 3 (model's own knowledge) and 4 (refusal). */
  private async degrade(req: ExecuteToolRequest, agent: Agent, grant: AgentTool, hash: string, failed: Outcome): Promise<Outcome> {
    const cause = failed.error!;
    if (grant.fallback) {
      const alt = this.resolve(agent, grant.fallback, req.arguments);
      if (!('refusal' in alt)) {
        // The alternate gets its own key so its side effect is de-duplicated on its own.
        const outcome = await this.invoke(alt.tool, alt.args, alt.grant, `${req.idempotencyKey}~${alt.tool.name}`, req.timeoutMs);
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
