import type { ChatMessage, ToolSpec } from '@keel/contracts';

/**
 * The prompt as plain, role-labelled text: what `reply: "echo"` answers with,
 * so an operator can see exactly what context the orchestrator assembled.
 * Content is kept verbatim (not indented) so a test can search it for the
 * exact system prompt or tool output.
 */
export function renderPrompt(messages: readonly ChatMessage[], tools: readonly ToolSpec[] = []): string {
  const lines: string[] = [];
  if (tools.length > 0) lines.push(`tools: ${tools.map((t) => t.name).join(', ')}`);
  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'user':
        lines.push(`${message.role}: ${message.content}`);
        break;
      case 'assistant': {
        const calls = message.toolCalls ?? [];
        if (message.content !== null || calls.length === 0) lines.push(`assistant: ${message.content ?? ''}`);
        for (const call of calls) {
          lines.push(`assistant tool call [${call.id ?? '?'}] ${call.name} ${JSON.stringify(call.arguments)}`);
        }
        break;
      }
      case 'tool':
        lines.push(`tool result [${message.toolCallId}] ${message.name}: ${message.content}`);
        break;
    }
  }
  return lines.join('\n');
}
