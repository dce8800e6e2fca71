import type { ExecuteToolResponse } from '@keel/contracts';

/**
 * The graceful degradation ladder (design.md): alternate tool → cached result
 * labelled with its age → the model's own knowledge with a disclaimer → a
 * graceful refusal. The tool-executor climbs rungs 1 and 2 (it owns tools and
 * their cache); the orchestrator owns 3 and 4, which are about the
 * conversation. Each rung is an event (`ladder.*`).
 */
export const LADDER_MARKER = '[tool unavailable]';

/** Failures the ladder handles; argument or permission errors go back to the model as they are. */
export const isLadderFailure = (code: string | undefined): boolean => code === 'tool_error' || code === 'timeout' || code === 'unavailable';

export function degradedContent(raw: string, degraded: NonNullable<ExecuteToolResponse['degraded']>): string {
  if (degraded.rung === 'cached_result') {
    return `[cached result from ${formatAge(degraded.ageMs ?? 0)} ago: the live call failed (${degraded.cause.message}); it may be out of date]\n${raw}`;
  }
  return `[answered by the alternate tool ${degraded.tool}: the primary failed (${degraded.cause.message})]\n${raw}`;
}

/** A read tool's result served from its result cache (within the tool's TTL): labelled with its age. */
export function cachedContent(raw: string, ageMs: number): string {
  return `[cached result from ${formatAge(ageMs)} ago]\n${raw}`;
}

export function modelKnowledgeContent(tool: string, error: { code: string; message: string }): string {
  return `${LADDER_MARKER} ${tool} failed (${error.code}: ${error.message}) and no alternate or cached result exists. ` +
    'Answer from your own knowledge if you can, and say clearly that the answer was not checked with the tool and may be out of date; otherwise say you cannot complete the request now. Do not call this tool again.';
}

export function refusalOutput(tool: string): string {
  return `I'm sorry, I can't complete this request right now: the ${tool} service it depends on is unavailable. Please try again later.`;
}

export function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 90 ? `${m} min` : `${Math.round(m / 60)} h`;
}
