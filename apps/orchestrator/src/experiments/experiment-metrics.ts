import { counter } from '@keel/telemetry';

/**
 * Tasks of A/B experiments: `status` is `submitted` at intake, then the
 * terminal status the step loop gave the task. Per-variant success rates,
 * latency and cost with a significance test: `GET /v1/experiments/{agent}`.
 */
export const experimentTasks = counter('keel_experiment_tasks_total', 'Tasks of A/B experiments by agent, experiment, variant and status (submitted, then terminal)', ['agent', 'experiment', 'variant', 'status']);

/** Counts a task's terminal status under its variant (no-op outside an experiment). */
export function countExperimentOutcome(task: { agent: string; experiment?: string | null; variant?: string | null }, status: string): void {
  if (task.experiment && task.variant) experimentTasks.inc({ agent: task.agent, experiment: task.experiment, variant: task.variant, status });
}
