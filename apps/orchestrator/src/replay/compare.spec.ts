import type { ChatMessage, TaskEvent } from '@keel/contracts';
import { describeRun, pairSteps } from './compare';

const ev = (seq: number, type: string, data: Record<string, unknown>): TaskEvent => ({ taskId: 't', seq, type, data, at: '2025-01-01T00:00:00.000Z' });

describe('describeRun', () => {
  it('splits a transcript into steps and adds the model and how each call was served', () => {
    const transcript: ChatMessage[] = [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'U' },
      { role: 'assistant', content: null, toolCalls: [{ id: 'a', name: 'http_request', arguments: { n: 1 } }, { id: 'b', name: 'calculator', arguments: { expression: '1+1' } }] },
      { role: 'tool', toolCallId: 'a', name: 'http_request', content: 'sent' },
      { role: 'tool', toolCallId: 'b', name: 'calculator', content: '2' },
      { role: 'assistant', content: 'done' },
    ];
    const events = [
      ev(1, 'task.submitted', {}), ev(2, 'step.started', { step: 1 }), ev(3, 'model.completed', { model: 'scripted/default' }),
      ev(4, 'tool.completed', { step: 1, index: 0, ok: true, replayed: true, replayedFrom: 'o:1:0' }), ev(5, 'tool.completed', { step: 1, index: 1, ok: true }),
      ev(6, 'step.completed', { step: 1, messageCount: 5 }), ev(7, 'step.started', { step: 2 }), ev(8, 'model.completed', { model: 'scripted/other' }),
    ];
    expect(describeRun(transcript, events)).toEqual([
      {
        step: 1, model: 'scripted/default', output: null, calls: [
          { index: 0, name: 'http_request', arguments: { n: 1 }, result: 'sent', ok: true, replayed: true, replayedFrom: 'o:1:0' },
          { index: 1, name: 'calculator', arguments: { expression: '1+1' }, result: '2', ok: true },
        ],
      },
      { step: 2, model: 'scripted/other', output: 'done', calls: [] },
    ]);
  });

  it('shows a failed step that committed no message with its error', () => {
    const steps = describeRun([{ role: 'system', content: 'S' }, { role: 'user', content: 'U' }], [ev(1, 'step.started', { step: 1 }), ev(2, 'task.failed', { step: 1, error: { code: 'x', message: 'y' } })]);
    expect(steps).toEqual([{ step: 1, model: null, calls: [], output: null, error: { code: 'x', message: 'y' } }]);
  });
});

describe('pairSteps', () => {
  it('marks steps up to fromStep shared and covers both runs', () => {
    const s = (step: number) => ({ step, model: null, calls: [], output: null });
    const pairs = pairSteps(2, [s(1), s(2), s(3)], [s(1), s(2), s(3), s(4)]);
    expect(pairs.map((p) => [p.step, p.shared, p.original !== null, p.replay !== null])).toEqual([
      [1, true, true, true], [2, true, true, true], [3, false, true, true], [4, false, false, true],
    ]);
    expect(pairSteps(1, null, []).map((p) => p.step)).toEqual([1]);
  });
});
