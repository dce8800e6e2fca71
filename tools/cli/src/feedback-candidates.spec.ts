import { parseDataset } from './eval/dataset';
import { criteriaFor, toCandidates } from './feedback-candidates';
import type { FeedbackItem } from './feedback-candidates';

const item = (over: Partial<FeedbackItem>): FeedbackItem => ({
  taskId: '3f1c2a9e-1111-4222-8333-444455556666', score: -1, comment: null, at: '2026-01-31T10:00:00.000Z', agent: 'support',
  input: 'How do I reset my password?', output: 'I cannot help with that.', userId: null, conversationId: null, ...over,
});

describe('feedback candidates', () => {
  it('turns thumbs-down tasks into eval cases the dataset parser accepts', () => {
    const cases = toCandidates([
      item({ comment: 'It refused a simple question', userId: 'ada', conversationId: 'c-1' }),
      item({ taskId: '9a9a9a9a-1111-4222-8333-444455556666', agent: 'billing', input: 'Refund?', output: null }),
      item({ taskId: '7b7b7b7b-1111-4222-8333-444455556666', score: 1, comment: 'great' }),
    ]);
    const { cases: parsed, issues } = parseDataset('candidates.jsonl', cases.map((c) => JSON.stringify(c)).join('\n'));
    expect(issues).toEqual([]);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({
      id: 'feedback-3f1c2a9e-1111-4222-8333-444455556666', input: 'How do I reset my password?', agent: 'support', userId: 'ada', conversationId: 'c-1',
      tags: ['feedback', 'needs-review'],
    });
    expect(parsed[0].expected?.criteria).toContain('"It refused a simple question"');
    expect(parsed[0].expected?.criteria).toContain('I cannot help with that.');
    expect(parsed[0].expected?.output).toBeUndefined();
    expect(parsed[1]).toMatchObject({ id: 'feedback-9a9a9a9a-1111-4222-8333-444455556666', agent: 'billing' });
    expect(parsed[1].userId).toBeUndefined();
    expect(parsed[1].expected?.criteria).toMatch(/without a comment/);
  });

  it('merges several thumbs-down on one task into one case, comments oldest first', () => {
    // The endpoint lists newest first.
    const cases = toCandidates([item({ comment: 'still wrong', at: '2026-01-31T11:00:00Z' }), item({ comment: 'wrong', at: '2026-01-31T10:00:00Z' })]);
    expect(cases).toHaveLength(1);
    expect(cases[0].expected?.criteria).toMatch(/"wrong"; "still wrong"/);
  });

  it('keeps the rubric hint short', () => {
    const c = criteriaFor(['x'.repeat(5_000)], 'y'.repeat(5_000));
    expect(c.length).toBeLessThan(1_200);
  });
});
