import type { ChatMessage, ToolCall } from '@keel/contracts';
import { checkRepetition, earlierOccurrences, loopHint } from './loop-detector';

const call = (expression: string): ToolCall => ({ id: 'c', name: 'calculator', arguments: { expression } });
const round = (c: ToolCall, result: string): ChatMessage[] => [
  { role: 'assistant', content: null, toolCalls: [c] },
  { role: 'tool', toolCallId: 'c', name: c.name, content: result },
];

describe('loop detection', () => {
  it('runs a call made fewer than three times in a row', () => {
    expect(checkRepetition([...round(call('1+1'), '2')], [call('1+1')])).toEqual({ action: 'run' });
    expect(checkRepetition([...round(call('1+1'), '2'), ...round(call('2+2'), '4')], [call('1+1')])).toEqual({ action: 'run' });
  });

  it('hints on the third identical call in a row, regardless of argument key order', () => {
    const a = { id: 'x', name: 'http_request', arguments: { method: 'GET', url: 'http://a' } };
    const b = { id: 'y', name: 'http_request', arguments: { url: 'http://a', method: 'GET' } };
    expect(checkRepetition([...round(a, 'r'), ...round(b, 'r')], [a])).toEqual({ action: 'hint', repeats: 3 });
  });

  it('fails when the model keeps repeating after the hint', () => {
    const t = [...round(call('1+1'), '2'), ...round(call('1+1'), '2'), ...round(call('1+1'), loopHint('calculator', 3))];
    expect(checkRepetition(t, [call('1+1')])).toEqual({ action: 'fail', repeats: 4 });
  });

  it('counts earlier identical rounds (calls and results) anywhere in the task', () => {
    const t = [...round(call('1+1'), '2'), ...round(call('3+3'), '6'), ...round(call('1+1'), '2')];
    expect(earlierOccurrences(t, [call('1+1')], ['2'])).toBe(2);
    expect(earlierOccurrences(t, [call('1+1')], ['3'])).toBe(0);
  });
});
