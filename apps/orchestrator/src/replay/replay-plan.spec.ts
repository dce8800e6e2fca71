import type { ChatMessage } from '@keel/contracts';
import { MEMORY_RULE } from '../memory/context-assembler';
import { SPOTLIGHT_RULE } from '../steps/spotlight';
import {
  cutTranscript, isReplay, lineageOf, recordedKey, ReplayRequestSchema, sourceFor, systemContent, withReplayOverrides,
} from './replay-plan';
import type { ReplayMeta } from './replay-plan';

const transcript: ChatMessage[] = [
  { role: 'system', content: 'You are a shop assistant.' },
  { role: 'user', content: 'order three things' },
  { role: 'assistant', content: null, toolCalls: [{ id: 'c1', name: 'http_request', arguments: { n: 1 } }] },
  { role: 'tool', toolCallId: 'c1', name: 'http_request', content: 'ok 1' },
  { role: 'assistant', content: null, toolCalls: [{ id: 'c2', name: 'http_request', arguments: { n: 2 } }] },
  { role: 'tool', toolCallId: 'c2', name: 'http_request', content: 'ok 2' },
  { role: 'assistant', content: 'done' },
];

const meta = (m: Partial<ReplayMeta> & Pick<ReplayMeta, 'of' | 'fromStep'>): Record<string, unknown> => ({
  script: [], replay: { messageCount: 0, liveTools: false, recorded: [{ taskId: m.of, toStep: null }], ...m },
});

describe('cutTranscript', () => {
  it('keeps the messages up to the end of step N, unchanged and as copies', () => {
    const cut = cutTranscript(transcript, 4);
    expect(cut).toEqual(transcript.slice(0, 4));
    cut.push({ role: 'user', content: 'x' });
    expect(transcript).toHaveLength(7);
    expect(cutTranscript(transcript, 0)).toEqual([]);
    expect(cutTranscript(transcript, 7)).toEqual(transcript);
  });

  it('replaces only the system message when a new system prompt is given', () => {
    const cut = cutTranscript(transcript, 6, 'You are terse.');
    expect(cut[0]).toEqual({ role: 'system', content: 'You are terse.' });
    expect(cut.slice(1)).toEqual(transcript.slice(1, 6));
    expect(transcript[0].content).toBe('You are a shop assistant.');
  });

  it('refuses a cut outside the transcript', () => {
    expect(() => cutTranscript(transcript, 8)).toThrow(RangeError);
    expect(() => cutTranscript(transcript, -1)).toThrow(RangeError);
  });
});

describe('withReplayOverrides', () => {
  const agent = { name: 'shop', model: 'scripted/default', systemPrompt: 'You are a shop assistant.', tools: [] };

  it('leaves an ordinary task\'s agent as it is (same object)', () => {
    expect(withReplayOverrides(agent, {})).toBe(agent);
    expect(withReplayOverrides(agent, { replay: 'not an object' })).toBe(agent);
    expect(withReplayOverrides(agent, meta({ of: 't', fromStep: 1 }))).toBe(agent);
  });

  it('replaces the model and the system prompt for the replay only', () => {
    const a = withReplayOverrides(agent, meta({ of: 't', fromStep: 1, model: 'scripted/other' }));
    expect(a).toEqual({ ...agent, model: 'scripted/other' });
    expect(agent.model).toBe('scripted/default');
    expect(withReplayOverrides(agent, meta({ of: 't', fromStep: 1, systemPrompt: 'Be brief.' }))).toEqual({ ...agent, systemPrompt: 'Be brief.' });
  });

  it('builds the system message as the step runner does', () => {
    expect(systemContent({ systemPrompt: 'P', tools: [] }, null)).toBe('P');
    expect(systemContent({ systemPrompt: 'P', tools: [{ name: 'calculator' }] as never }, 'conv')).toBe(`P\n\n${SPOTLIGHT_RULE}\n\n${MEMORY_RULE}`);
  });
});

describe('recorded keys and lineage', () => {
  it('an ordinary task records its own calls; a replay looks up the original\'s at the same position', () => {
    expect(lineageOf('o', {})).toEqual([{ taskId: 'o', toStep: null }]);
    expect(recordedKey({}, 3, 0)).toBeUndefined();
    expect(recordedKey(meta({ of: 'o', fromStep: 2 }), 3, 1)).toBe('o:3:1');
    expect(recordedKey(meta({ of: 'o', fromStep: 2, liveTools: true }), 3, 1)).toBeUndefined();
    expect(isReplay(meta({ of: 'o', fromStep: 2 }))).toBe(true);
    expect(isReplay({ replay: { of: 'o' } })).toBe(false);
  });

  it('a replay of a replay finds each step\'s call in the task that ran it', () => {
    // r1 replays o from step 2: its steps 1-2 are o's, later ones its own.
    const r1 = lineageOf('r1', meta({ of: 'o', fromStep: 2, recorded: lineageOf('o', {}) }));
    expect(r1).toEqual([{ taskId: 'o', toStep: 2 }, { taskId: 'r1', toStep: null }]);
    // r2 replays r1 from step 1: step 2 of r1 was o's, step 3 r1's own.
    const r2meta = meta({ of: 'r1', fromStep: 1, recorded: r1 });
    expect(recordedKey(r2meta, 2, 0)).toBe('o:2:0');
    expect(recordedKey(r2meta, 3, 0)).toBe('r1:3:0');
    const r2 = lineageOf('r2', r2meta);
    expect(r2).toEqual([{ taskId: 'o', toStep: 1 }, { taskId: 'r2', toStep: null }]);
    // r3 replays r2 from step 4: steps 2..4 ran in r2.
    const r3 = lineageOf('r3', meta({ of: 'r2', fromStep: 4, recorded: r2 }));
    expect(r3).toEqual([{ taskId: 'o', toStep: 1 }, { taskId: 'r2', toStep: 4 }, { taskId: 'r3', toStep: null }]);
    expect([1, 2, 4, 5, 9].map((s) => sourceFor(r3, s))).toEqual(['o', 'r2', 'r2', 'r3', 'r3']);
    // From step 0 nothing is inherited.
    expect(lineageOf('r4', meta({ of: 'r2', fromStep: 0, recorded: r2 }))).toEqual([{ taskId: 'r4', toStep: null }]);
  });
});

describe('ReplayRequestSchema', () => {
  it('accepts the documented body and names what is wrong otherwise', () => {
    expect(ReplayRequestSchema.parse({ fromStep: 2, model: 'scripted/other', liveTools: true, metadata: { script: [] } })).toMatchObject({ fromStep: 2 });
    const bad = ReplayRequestSchema.safeParse({ fromStep: 1.5, model: 'gpt', extra: 1 });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.') || i.message)).toEqual(expect.arrayContaining(['fromStep', 'model']));
  });
});
