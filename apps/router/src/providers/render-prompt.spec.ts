import type { ChatMessage } from '@keel/contracts';
import { renderPrompt } from './render-prompt';

describe('renderPrompt', () => {
  const messages: ChatMessage[] = [
    { role: 'system', content: 'You are a careful assistant.\nUntrusted data is delimited.' },
    { role: 'user', content: 'What is 2+2?' },
    { role: 'assistant', content: null, toolCalls: [{ id: 'call_1', name: 'calculator', arguments: { expression: '2+2' } }] },
    { role: 'tool', toolCallId: 'call_1', name: 'calculator', content: '4' },
    { role: 'assistant', content: 'It is 4.' },
  ];

  it('labels every message with its role, including tool calls and results', () => {
    expect(renderPrompt(messages).split('\n')).toEqual([
      'system: You are a careful assistant.',
      'Untrusted data is delimited.',
      'user: What is 2+2?',
      'assistant tool call [call_1] calculator {"expression":"2+2"}',
      'tool result [call_1] calculator: 4',
      'assistant: It is 4.',
    ]);
  });

  it('keeps content verbatim', () => {
    expect(renderPrompt(messages)).toContain('You are a careful assistant.\nUntrusted data is delimited.');
  });

  it('lists the offered tools first', () => {
    const text = renderPrompt([{ role: 'user', content: 'hi' }], [
      { name: 'calculator', description: 'math', parameters: {} },
      { name: 'run_code', description: 'code', parameters: {} },
    ]);
    expect(text).toBe('tools: calculator, run_code\nuser: hi');
  });

  it('shows an empty assistant message rather than dropping it', () => {
    expect(renderPrompt([{ role: 'assistant', content: null }])).toBe('assistant: ');
  });
});
