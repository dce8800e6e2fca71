import { cosine, l2Normalise, LOCAL_EMBEDDING_DIM, LOCAL_EMBEDDING_MODEL, LocalEmbedder, localEmbed, prepareForEmbedding } from './local-embedding';

const sim = (a: string, b: string) => cosine(localEmbed(a), localEmbed(b));
const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('local embedding', () => {
  it('is deterministic, fixed-dimension and unit length', async () => {
    const a = localEmbed('What is the capital of France?');
    expect(a).toHaveLength(LOCAL_EMBEDDING_DIM);
    expect(Array.from(localEmbed('What is the capital of France?'))).toEqual(Array.from(a));
    expect(norm(a)).toBeCloseTo(1, 5);
    const e = await new LocalEmbedder().embed('What is the capital of France?');
    expect(e.model).toBe(LOCAL_EMBEDDING_MODEL);
    expect(Array.from(e.vector)).toEqual(Array.from(a));
  });

  it('scores near-identical texts at 0.95 or more', () => {
    const near: [string, string][] = [
      ['What is the capital of France?', 'what is the capital of france'],
      ['What is the capital of France?', 'What is  the capital of France ?'],
      ['Can you tell me what the weather forecast is for Paris tomorrow morning?', 'can you tell me what the weather forecast is for Paris tomorrow morning'],
      [
        'Please summarise the attached quarterly sales report for the EMEA region, list the three largest risks and suggest one mitigation for each.',
        'Please summarise the attached quarterly sales report for the EMEA region, list the three largest risks and suggest a mitigation for each.',
      ],
    ];
    for (const [a, b] of near) expect(sim(a, b)).toBeGreaterThanOrEqual(0.95);
  });

  it('scores unrelated texts below 0.5', () => {
    const far: [string, string][] = [
      ['What is the capital of France?', 'How do I reset my password on the billing portal?'],
      ['Please write a haiku about autumn leaves falling', 'Explain the difference between TCP and UDP in networking'],
      [
        'The committee reviewed the annual budget and decided to postpone the construction of the new library until next spring.',
        'Photosynthesis converts light energy into chemical energy stored in glucose, releasing oxygen as a by-product.',
      ],
    ];
    for (const [a, b] of far) expect(sim(a, b)).toBeLessThan(0.5);
  });

  it('keeps symbols that change the question', () => {
    expect(sim('What is 2+2?', 'What is 2*2?')).toBeLessThan(0.95);
    expect(prepareForEmbedding('  Hello,\n WORLD ?! ')).toBe('hello, world');
  });

  it('embeds empty text as the zero vector, whose cosine is 0', () => {
    expect(norm(localEmbed(''))).toBe(0);
    expect(cosine(localEmbed(''), localEmbed('x'))).toBe(0);
  });

  it('l2Normalise and cosine agree; mismatched dimensions throw', () => {
    const v = l2Normalise([3, 4]);
    expect(Array.from(v)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(cosine(v, l2Normalise([6, 8]))).toBeCloseTo(1, 6);
    expect(() => cosine(v, new Float32Array(3))).toThrow(/dimensions/);
  });
});
