import type { ChatMessage, TaskEvent, TaskView } from '@keel/contracts';

/** One tool call of a step as the comparison shows it. */
export interface StepCall {
  index: number;
  name: string;
  arguments: Record<string, unknown>;
  /** The tool message the model saw (spotlighted), cut to RESULT_CHARS. */
  result: string | null;
  ok?: boolean;
  /** The ledger answered (a redelivered step, or a replayed call). */
  replayed?: boolean;
  /** A replayed call: the recorded call's key whose result this is. */
  replayedFrom?: string;
}

/** One step of a run: the model that answered, its calls and their results, or its final answer. */
export interface StepView {
  step: number;
  model: string | null;
  calls: StepCall[];
  /** The assistant's text (the final answer on the last step). */
  output: string | null;
  error?: unknown;
}

export interface RunSummary {
  id: string;
  status: TaskView['status'];
  agent: string;
  steps: number;
  output: string | null;
  error: TaskView['error'];
  usage: TaskView['usage'];
}

/** `GET /v1/tasks/{id}/compare`: a replay beside its original, step by step. */
export interface Comparison {
  fromStep: number;
  overrides: { model?: string; systemPrompt?: string; agent?: string; liveTools: boolean };
  original: RunSummary | null;
  replay: RunSummary;
  /** Steps 1..fromStep are shared (the replay's copy of the original's); later ones are new. */
  steps: { step: number; shared: boolean; original: StepView | null; replay: StepView | null }[];
}

const RESULT_CHARS = 4000;

export const summary = (t: TaskView): RunSummary => ({ id: t.id, status: t.status, agent: t.agent, steps: t.steps, output: t.output, error: t.error, usage: t.usage });

/**
 * A run step by step, for display. Each step adds exactly one assistant
 * message to the transcript (tool calls or the final answer), followed by the
 * tool messages that answered it; step 1 also starts with the system and user
 * messages. Events add what the transcript does not hold: which model answered
 * (`model.completed` after that step's `step.started`), how each call was
 * served (`tool.completed`), and a failed step's error.
 */
export function describeRun(transcript: readonly ChatMessage[], events: readonly TaskEvent[]): StepView[] {
  const steps = new Map<number, StepView>();
  const at = (step: number): StepView => {
    let v = steps.get(step);
    if (!v) {
      v = { step, model: null, calls: [], output: null };
      steps.set(step, v);
    }
    return v;
  };
  let step = 0;
  for (const m of transcript) {
    if (m.role === 'assistant') {
      step += 1;
      const v = at(step);
      v.output = m.content ?? null;
      v.calls = (m.toolCalls ?? []).map((c, index) => ({ index, name: c.name, arguments: c.arguments ?? {}, result: null }));
    } else if (m.role === 'tool' && step > 0) {
      const v = at(step);
      const call = v.calls.find((c) => c.result === null);
      if (call) call.result = m.content.length > RESULT_CHARS ? `${m.content.slice(0, RESULT_CHARS - 1)}…` : m.content;
    }
  }
  let current = 0;
  for (const e of events) {
    const d = e.data;
    if (e.type === 'step.started' && typeof d.step === 'number') current = d.step;
    else if (e.type === 'model.completed' && current > 0 && typeof d.model === 'string') at(current).model = d.model;
    else if (e.type === 'tool.completed' && typeof d.step === 'number' && typeof d.index === 'number') {
      const call = at(d.step).calls.find((c) => c.index === d.index);
      if (call) {
        call.ok = d.ok === true;
        if (d.replayed === true) call.replayed = true;
        if (typeof d.replayedFrom === 'string') call.replayedFrom = d.replayedFrom;
      }
    } else if ((e.type === 'step.failed' || e.type === 'task.failed' || e.type === 'task.timed_out') && d.error !== undefined) {
      at(typeof d.step === 'number' ? d.step : current).error = d.error;
    }
  }
  return [...steps.values()].sort((a, b) => a.step - b.step);
}

/** Both runs side by side over the union of their steps. */
export function pairSteps(fromStep: number, original: StepView[] | null, replay: StepView[]): Comparison['steps'] {
  const last = Math.max(fromStep, ...(original ?? []).map((s) => s.step), ...replay.map((s) => s.step));
  const out: Comparison['steps'] = [];
  for (let step = 1; step <= last; step++) {
    out.push({
      step, shared: step <= fromStep,
      original: original?.find((s) => s.step === step) ?? null,
      replay: replay.find((s) => s.step === step) ?? null,
    });
  }
  return out;
}
