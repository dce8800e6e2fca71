import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentLoadError, loadAgents, parseAgentFile } from './agents.loader';

describe('agents loader', () => {
  it('parses the design.md example with defaults filled in', () => {
    const agent = parseAgentFile('demo.yaml', `
name: demo
model: scripted/default
systemPrompt: You are a demo.
tools:
  - calculator
  - name: http_request
    allow: ["api.example.com", "127.0.0.1:4318"]
    risk: approve
limits: {maxSteps: 5}
`);
    expect(agent.tools).toEqual([{ name: 'calculator' }, { name: 'http_request', allow: ['api.example.com', '127.0.0.1:4318'], risk: 'approve' }]);
    expect(agent.limits).toEqual({ maxSteps: 5, toolTimeoutMs: 10000, stepTimeoutMs: 30000, taskTimeoutMs: 300000 });
  });

  it('names the file and field of a bad definition', () => {
    expect(() => parseAgentFile('/x/bad.yaml', 'name: Bad Name\nmodel: gpt4\n')).toThrow(/\/x\/bad.yaml: invalid agent definition: name: .*; model: model ids are provider\/model/);
    expect(() => parseAgentFile('/x/y.yaml', 'name: [')).toThrow(AgentLoadError);
  });

  it('lets a later directory override an agent by name', () => {
    const root = mkdtempSync(join(tmpdir(), 'keel-agents-'));
    mkdirSync(join(root, 'a'));
    mkdirSync(join(root, 'b'));
    writeFileSync(join(root, 'a', 'x.yaml'), 'name: x\nmodel: scripted/default\nsystemPrompt: first\n');
    writeFileSync(join(root, 'b', 'x.yml'), 'name: x\nmodel: scripted/default\nsystemPrompt: second\n');
    writeFileSync(join(root, 'b', 'notes.txt'), 'ignored');
    const agents = loadAgents([join(root, 'a'), join(root, 'b')]);
    expect(agents.get('x')?.systemPrompt).toBe('second');
    expect(agents.size).toBe(1);
  });

  it('fails clearly on a missing directory', () => {
    expect(() => loadAgents(['/nonexistent/keel-agents'])).toThrow(/cannot read agents directory \/nonexistent\/keel-agents/);
  });
});
