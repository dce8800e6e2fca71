import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, formatIssue, loadDataset, parseDataset, selectByTags } from './dataset';

const line = (v: unknown): string => JSON.stringify(v);

describe('parseDataset (JSONL)', () => {
  it('reads one case per line, skipping blank lines, and remembers where each came from', () => {
    const text = [
      line({ id: 'a', input: 'What is 2+2?', agent: 'eval-tools', expected: { output: '4' }, tags: ['math'] }),
      '',
      line({ id: 'b', input: 'hi', metadata: { script: [{ content: 'hello' }] }, expected: { status: 'succeeded', regex: '/HELLO/i' } }),
    ].join('\n');
    const { cases, issues } = parseDataset('suite/basic.jsonl', text);
    expect(issues).toEqual([]);
    expect(cases.map((c) => [c.id, c.source])).toEqual([['a', { file: 'suite/basic.jsonl', line: 1 }], ['b', { file: 'suite/basic.jsonl', line: 3 }]]);
    expect(cases[0]).toMatchObject({ agent: 'eval-tools', expected: { output: '4' }, tags: ['math'] });
  });

  it('names file, line and field of a wrong value', () => {
    const text = [line({ id: 'ok', input: 'x' }), line({ id: 'x', input: 'y' }), line({ id: 'bad-status', input: 'z', expected: { status: 'done' } })].join('\n');
    const { issues } = parseDataset('evals/suite/s.jsonl', text);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'evals/suite/s.jsonl', line: 3, caseId: 'bad-status', field: 'expected.status' });
    expect(formatIssue(issues[0])).toMatch(/^evals\/suite\/s\.jsonl:3: case "bad-status", field expected\.status: .*succeeded/);
  });

  it('names an unknown field (a typo) instead of ignoring it', () => {
    const { issues } = parseDataset('s.jsonl', line({ id: 'typo', input: 'x', expected: { outptu: 'y' } }));
    expect(issues).toEqual([{ file: 's.jsonl', line: 1, caseId: 'typo', field: 'expected.outptu', message: 'unknown field "outptu" (a typo?)' }]);
  });

  it('names a missing field, bad JSON, and a line that is not an object', () => {
    const { issues } = parseDataset('s.jsonl', [line({ id: 'no-input' }), '{"id": "x", "input": ', '[1,2]'].join('\n'));
    expect(issues.map((i) => [i.line, i.field, i.message.slice(0, 20)])).toEqual([
      [1, 'input', expect.any(String)],
      [2, undefined, 'not valid JSON: Unex'],
      [3, undefined, 'each line must be on'],
    ]);
  });

  it('validates metadata.script turns with the scripted model\'s own schema', () => {
    const { issues } = parseDataset('s.jsonl', line({ id: 's', input: 'x', metadata: { script: [{ content: 'ok' }, { fault: { status: 200 } }] } }));
    expect(issues).toHaveLength(1);
    expect(issues[0].field).toBe('metadata.script[1].fault.status');
  });

  it('refuses a regex that does not compile and a JSON Schema Ajv cannot compile', () => {
    const { issues } = parseDataset('s.jsonl', [
      line({ id: 'r', input: 'x', expected: { regex: '(unclosed' } }),
      line({ id: 'j', input: 'x', expected: { jsonSchema: { type: 'no-such-type' } } }),
    ].join('\n'));
    expect(issues.map((i) => [i.line, i.field])).toEqual([[1, 'expected.regex'], [2, 'expected.jsonSchema']]);
    expect(issues[0].message).toMatch(/not a valid regular expression/);
    expect(issues[1].message).toMatch(/not a valid JSON Schema/);
  });

  it('refuses ids, agents and tags that would break reports or the API', () => {
    const { issues } = parseDataset('s.jsonl', line({ id: 'has space', input: 'x', agent: 'Demo', tags: ['a,b'], timeoutMs: 5 }));
    expect(issues.map((i) => i.field).sort()).toEqual(['agent', 'id', 'tags[0]', 'timeoutMs']);
  });
});

describe('parseDataset (YAML)', () => {
  it('reads a list of cases with the line of each', () => {
    const text = '# comment\n- id: a\n  input: hi\n\n- id: b\n  input: there\n  expected: {output: x}\n';
    const { cases, issues } = parseDataset('s.yaml', text);
    expect(issues).toEqual([]);
    expect(cases.map((c) => [c.id, c.source.line])).toEqual([['a', 2], ['b', 5]]);
  });

  it('reads {cases: [...]} and points at the line of the bad field itself', () => {
    const text = ['cases:', '  - id: a', '    input: hi', '  - id: b', '    input: there', '    expected:', '      status: done', '      output: x', ''].join('\n');
    const { issues } = parseDataset('s.yml', text);
    expect(issues).toEqual([expect.objectContaining({ file: 's.yml', line: 7, caseId: 'b', field: 'expected.status' })]);
  });

  it('points a missing field at its case, and reports YAML syntax errors with their line', () => {
    expect(parseDataset('s.yaml', '- id: a\n  input: x\n- id: b\n').issues).toEqual([expect.objectContaining({ line: 3, caseId: 'b', field: 'input' })]);
    const bad = parseDataset('s.yaml', '- id: a\n  input: [x\n');
    expect(bad.issues[0].message).toMatch(/^not valid YAML/);
    expect(bad.issues[0].line).toBeGreaterThanOrEqual(2);
  });

  it('refuses a YAML file that is not a list of cases', () => {
    expect(parseDataset('s.yaml', 'id: a\ninput: x\n').issues[0].message).toMatch(/list of cases/);
  });

  it('refuses other file types', () => {
    expect(parseDataset('s.csv', 'id,input').issues[0].message).toMatch(/unsupported dataset type/);
  });
});

describe('loadDataset', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keel-eval-dataset-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a directory\'s dataset files in name order', () => {
    writeFileSync(join(dir, 'b.jsonl'), line({ id: 'b1', input: 'x' }));
    writeFileSync(join(dir, 'a.yaml'), '- id: a1\n  input: y\n');
    writeFileSync(join(dir, 'notes.md'), 'ignored');
    const { files, cases } = loadDataset([dir], dir);
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['a.yaml', 'b.jsonl']);
    expect(cases.map((c) => `${c.id}@${c.source.file}:${c.source.line}`)).toEqual(['a1@a.yaml:1', 'b1@b.jsonl:1']);
  });

  it('collects every problem of every file, and says nothing was run', () => {
    writeFileSync(join(dir, 'a.jsonl'), [line({ id: 'dup', input: 'x' }), line({ id: 'c', input: 'x', expected: { status: 'nope' } })].join('\n'));
    writeFileSync(join(dir, 'b.jsonl'), [line({ id: 'dup', input: 'x' }), line({ id: 'd', input: 'x', dependsOn: ['ghost'] })].join('\n'));
    let err: unknown;
    try {
      loadDataset([dir], dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetError);
    const message = (err as DatasetError).message;
    expect(message).toMatch(/nothing was run/);
    expect(message).toContain('a.jsonl:2: case "c", field expected.status');
    expect(message).toContain('b.jsonl:1: case "dup", field id: duplicate id; first used at a.jsonl:1');
    expect(message).toContain('b.jsonl:2: case "d", field dependsOn: unknown case "ghost"');
  });

  it('finds dependency cycles', () => {
    writeFileSync(join(dir, 'a.jsonl'), [line({ id: 'x', input: 'x', dependsOn: ['y'] }), line({ id: 'y', input: 'y', dependsOn: ['x'] })].join('\n'));
    expect(() => loadDataset([dir], dir)).toThrow(/dependency cycle: x → y → x/);
  });

  it('reports a path that does not exist, and an empty directory', () => {
    expect(() => loadDataset([join(dir, 'nope.jsonl')], dir)).toThrow(/no such file or directory/);
    expect(() => loadDataset([dir], dir)).toThrow(/holds no \.jsonl, \.yaml or \.yml files/);
  });
});

describe('selectByTags', () => {
  it('keeps the cases with any of the tags, or all without tags', () => {
    const { cases } = parseDataset('s.jsonl', [line({ id: 'a', input: 'x', tags: ['retries'] }), line({ id: 'b', input: 'x', tags: ['tools', 'loops'] }), line({ id: 'c', input: 'x' })].join('\n'));
    expect(selectByTags(cases, ['loops', 'retries']).map((c) => c.id)).toEqual(['a', 'b']);
    expect(selectByTags(cases, undefined).map((c) => c.id)).toEqual(['a', 'b', 'c']);
  });
});
