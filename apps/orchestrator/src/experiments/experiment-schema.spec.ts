import { AgentSchema } from '@keel/contracts';
import { parseAgentFile } from '@keel/config';

const load = (experimentYaml: string) => () => parseAgentFile('agents/support.yaml', `name: support\nmodel: scripted/default\n${experimentYaml}`);

describe('agent experiment schema', () => {
  it('accepts 2–10 uniquely named variants, with weights on all or none', () => {
    const a = AgentSchema.parse({ name: 'support', model: 'scripted/default', experiment: { name: 'tone', variants: [{ name: 'control' }, { name: 'warm', systemPrompt: 'Be warm.' }] } });
    expect(a.experiment?.variants.map((v) => v.name)).toEqual(['control', 'warm']);
    expect(AgentSchema.safeParse({ name: 's', model: 'scripted/default', experiment: { name: 't', variants: [{ name: 'a', weight: 70 }, { name: 'b', weight: 30 }] } }).success).toBe(true);
  });

  it('rejects a bad experiment with an error that names the field', () => {
    expect(load('experiment: {name: tone, variants: [{name: a}]}')).toThrow(/agents\/support\.yaml: invalid agent definition: experiment\.variants: an experiment needs at least 2 variants/);
    expect(load('experiment: {name: tone, variants: [{name: a}, {name: a}]}')).toThrow(/experiment\.variants\.1\.name: variant names must be unique: "a" appears twice/);
    expect(load('experiment: {name: tone, variants: [{name: a, weight: 70}, {name: b}]}')).toThrow(/experiment\.variants\.1\.weight: give every variant a weight or none/);
    expect(load('experiment: {name: tone, variants: [{name: a, weight: -1}, {name: b, weight: 1}]}')).toThrow(/experiment\.variants\.0\.weight: weight must be 0 or more/);
    expect(load('experiment: {name: tone, variants: [{name: a, weight: 0}, {name: b, weight: 0}]}')).toThrow(/experiment\.variants\.0\.weight: at least one variant needs a weight above 0/);
    expect(load('experiment: {name: tone, variants: [{name: a}, {name: b, model: gpt4}]}')).toThrow(/experiment\.variants\.1\.model: model ids are provider\/model/);
    expect(load('experiment: {name: tone, variants: [{name: a}, {name: b, temprature: 1}]}')).toThrow(/experiment\.variants\.1: .*temprature/);
    expect(load(`experiment: {name: tone, variants: [${Array.from({ length: 11 }, (_, i) => `{name: v${i}}`).join(', ')}]}`)).toThrow(/experiment\.variants: an experiment has at most 10 variants/);
    expect(load('experiment: {name: Tone!, variants: [{name: a}, {name: b}]}')).toThrow(/experiment\.name: experiment names are lowercase/);
  });
});
