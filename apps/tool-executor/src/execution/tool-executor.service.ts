import { Inject, Injectable } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import type { Agent, ExecuteToolRequest, ExecuteToolResponse, ToolSpec } from '@keel/contracts';
import { AGENTS } from '@keel/service-kit';
import { counter, histogram, SpanKind, withSpan } from '@keel/telemetry';
import { argsHash, LedgerRepository } from '../ledger/ledger.repository';
import { ToolRegistry } from '../tools';

const toolCalls = counter('keel_tool_calls_total', 'Tool calls by tool and outcome', ['tool', 'outcome']);
const toolSeconds = histogram('keel_tool_call_seconds', 'Tool execution time (replays excluded)', ['tool']);

export const TOOL_REGISTRY = Symbol('keel:tool-registry');

/**
 * Executes one tool call exactly once per idempotency key. Pure tools run
 * without the ledger; others are claimed in the ledger first, run, then
 * settled. A key seen again returns the settled result (`replayed: true`);
 * a key left `started` by a dead executor is in doubt: a tool idempotent by
 * key is invoked again with the same key (the remote side de-duplicates), any
 * other tool is refused with `outcome_unknown` so a person decides.
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
      return def ? [{ name: def.name, description: def.description, parameters: def.parameters }] : [];
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
      const grant = agent.tools.find((t) => t.name === req.name);
      if (!grant) return this.refuse(req, 'tool_not_allowed', `agent "${agent.name}" may not use the tool "${req.name}"; allowed: ${agent.tools.map((t) => t.name).join(', ') || 'none'}`);
      const tool = this.registry.get(req.name);
      if (!tool) return this.refuse(req, 'tool_not_allowed', `no tool named "${req.name}" is installed`);
      let args: unknown;
      try {
        args = this.registry.parseArgs(req.name, req.arguments);
      } catch (err) {
        return this.refuse(req, 'validation_failed', KeelError.wrap(err).message);
      }

      if (tool.idempotency !== 'pure') {
        const hash = argsHash(req.arguments);
        const entry = await this.ledger.claim(req.idempotencyKey, { tenant: req.tenant, taskId: req.taskId, step: req.step, tool: req.name, argsHash: hash });
        if (entry.state !== 'claimed' && entry.argsHash !== hash) {
          throw new KeelError('conflict', `idempotency key ${req.idempotencyKey} was already used for different arguments`);
        }
        if (entry.state === 'settled') {
          span.setAttribute('keel.tool.replayed', true);
          toolCalls.inc({ tool: req.name, outcome: 'replayed' });
          return { ok: entry.ok, result: entry.ok ? entry.result : undefined, error: entry.error ?? undefined, replayed: true, durationMs: entry.durationMs };
        }
        if (entry.state === 'in_doubt') {
          if (tool.idempotency !== 'idempotent_by_key') {
            throw new KeelError('outcome_unknown', `the outcome of ${req.name} for key ${req.idempotencyKey} is unknown (an executor stopped during the call) and the tool is not idempotent; a person must decide`, { details: { attempts: entry.attempts } });
          }
          span.setAttribute('keel.tool.in_doubt_retry', true);
          await this.ledger.retryInDoubt(req.idempotencyKey);
        }
      }

      const started = performance.now();
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new KeelError('timeout', `${req.name} did not finish within ${req.timeoutMs} ms`)), req.timeoutMs);
      let outcome: { ok: boolean; result?: unknown; error?: { code: string; message: string }; durationMs: number };
      try {
        const result = await tool.execute(args, { idempotencyKey: req.idempotencyKey, allow: grant.allow ?? [], timeoutMs: req.timeoutMs, signal: controller.signal });
        outcome = { ok: true, result, durationMs: performance.now() - started };
      } catch (err) {
        const e = controller.signal.aborted ? KeelError.wrap(controller.signal.reason) : KeelError.wrap(err, 'tool_error');
        outcome = { ok: false, error: { code: e.code, message: e.message }, durationMs: performance.now() - started };
      } finally {
        clearTimeout(timer);
      }
      if (tool.idempotency !== 'pure') await this.ledger.settle(req.idempotencyKey, outcome);
      toolSeconds.observe({ tool: req.name }, outcome.durationMs / 1000);
      toolCalls.inc({ tool: req.name, outcome: outcome.ok ? 'ok' : outcome.error!.code });
      span.setAttribute('keel.tool.ok', outcome.ok);
      return { ok: outcome.ok, result: outcome.result, error: outcome.error, replayed: false, durationMs: outcome.durationMs };
    });
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
