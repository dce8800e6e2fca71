import type { TaskView } from '@keel/contracts';
import {
  clock, dateTime, deadLetterCells, formatDeadLetters, formatEvent, formatTask, humanBytes, isTerminalEvent, table, toTaskEvent, truncate,
} from './format';

const plain = { colour: false };
const local = (h: number, m: number, s: number, ms = 0): string => new Date(2025, 4, 6, h, m, s, ms).toISOString();
const ev = (type: string, data: Record<string, unknown> = {}) => ({ taskId: 't', seq: 3, type, at: local(10, 0, 1, 5), data });

describe('CLI formatting', () => {
  it('turns an SSE message into a TaskEvent, filling gaps from the SSE fields', () => {
    expect(toTaskEvent({ event: 'step.started', id: '4', data: JSON.stringify({ taskId: 't', seq: 4, type: 'step.started', at: 'x', data: { step: 1 } }) }))
      .toEqual({ taskId: 't', seq: 4, type: 'step.started', at: 'x', data: { step: 1 } });
    expect(toTaskEvent({ event: 'ping', id: '9', data: '{}' })).toMatchObject({ seq: 9, type: 'ping', data: {} });
    expect(toTaskEvent({ event: 'message', data: 'not json' })).toBeUndefined();
  });

  it('knows which events end a task', () => {
    expect(['task.succeeded', 'task.failed', 'task_cancelled', 'timed_out', 'task.timed_out'].every((t) => isTerminalEvent(ev(t)))).toBe(true);
    expect(isTerminalEvent(ev('step.failed'))).toBe(false);
    expect(isTerminalEvent(ev('tool.failed'))).toBe(false);
    expect(isTerminalEvent(ev('task.status', { status: 'cancelled' }))).toBe(true);
    expect(isTerminalEvent(ev('task.status', { status: 'running' }))).toBe(false);
  });

  it('prints an event on one line', () => {
    expect(formatEvent(ev('model.completed', { step: 1, model: 'scripted/default', usage: { inputTokens: 4 } }), plain))
      .toBe('10:00:01.005    #3  model.completed      step=1 model=scripted/default usage={"inputTokens":4}');
    expect(formatEvent(ev('task.queued'), plain)).toBe('10:00:01.005    #3  task.queued');
  });

  it('summarises a task', () => {
    const task: TaskView = {
      id: 't1', status: 'failed', agent: 'demo', mode: 'realtime', input: 'hi', output: null, error: { code: 'step_failed', message: 'boom' }, steps: 3,
      usage: { inputTokens: 10, outputTokens: 2, costUsd: 0.5 }, traceId: 'abc', conversationId: null, metadata: {},
      createdAt: local(9, 0, 0), updatedAt: local(9, 0, 2), finishedAt: local(9, 0, 2, 500),
    };
    expect(formatTask(task, plain).split('\n')).toEqual([
      'task      t1', 'status    failed', 'agent     demo', 'input     hi', 'error     step_failed: boom', 'steps     3',
      'usage     10 input + 2 output tokens, $0.500000', 'traceId   abc', 'created   2025-05-06 09:00:00', 'finished  2025-05-06 09:00:02 (2.5 s)',
    ]);
    expect(formatTask({ ...task, status: 'succeeded', error: null, output: 'line 1\nline 2' }, plain)).toContain('output    line 1\n          line 2');
  });

  it('lays out tables and dead letters', () => {
    expect(table(['A', 'BB'], [['xxx', 'y'], ['z', '']], plain)).toBe('A    BB\nxxx  y\nz');
    const letter = {
      id: 'd1', service: 'router', subject: 'keel.v1.router.complete', reason: 'validation_error' as const,
      error: { code: 'validation_failed', message: 'bad\ninput' }, headers: {}, data: '{}', encoding: 'utf8' as const,
      size: 2048, truncated: true, at: local(8, 1, 2),
    };
    expect(deadLetterCells({ seq: 5, letter, subject: letter.subject })).toEqual([
      '5', '2025-05-06 08:01:02', 'router', 'keel.v1.router.complete', 'validation_error', 'validation_failed: bad ⏎ input', '2.0 KiB (truncated)',
    ]);
    expect(deadLetterCells({ seq: 6, raw: 'garbage', subject: 'keel.v1.dlq.guardrail' })).toEqual(['6', '-', 'guardrail', 'keel.v1.dlq.guardrail', 'unreadable', 'garbage', '-']);
    expect(formatDeadLetters([{ seq: 5, letter, subject: letter.subject }], plain).split('\n')[0]).toMatch(/^SEQ\s+TIME\s+SERVICE\s+SUBJECT\s+REASON\s+ERROR\s+SIZE$/);
  });

  it('has small helpers that behave', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(humanBytes(10)).toBe('10 B');
    expect(humanBytes(3 * 1024 * 1024)).toBe('3.0 MiB');
    expect(clock('bad')).toBe('bad');
    expect(dateTime(local(23, 59, 59))).toBe('2025-05-06 23:59:59');
  });
});
