import { SetMetadata } from '@nestjs/common';

export const TASK_SUBMISSION_KEY = 'keel:task-submission';
/**
 * Marks a route whose every call submits a task: it counts against the
 * tenant's task-submission budget as well as its request budget.
 * `POST /v1/tasks` counts without the mark.
 */
export const TaskSubmission = () => SetMetadata(TASK_SUBMISSION_KEY, true);
