import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isBoundaryAt, isLineEndAt, isSpaceCode, MAX_BLOCK_CHARS, sentenceOf, splitSegments, TextBreaks } from './segments';

// The reference: widening by walking from the span to the nearest line end / boundary, one character
// at a time (what the screener did before TextBreaks indexed the text once).
function walkBlockOf(text: string, start: number, end: number): { start: number; end: number } | undefined {
  let s = start;
  while (s > 0 && !isLineEndAt(text, s - 1)) s--;
  while (s < start && isSpaceCode(text.charCodeAt(s))) s++;
  let e = end;
  while (e < text.length && !isLineEndAt(text, e)) e++;
  if (s === 0 || text.charCodeAt(s - 1) !== 62 || e >= text.length || text.charCodeAt(e) !== 62) return undefined;
  e = text.lastIndexOf('<', e);
  return e - s <= MAX_BLOCK_CHARS && e > s ? { start: s, end: Math.max(e, end) } : undefined;
}
function walkSentenceOf(text: string, start: number, end: number): { start: number; end: number } {
  let s = start;
  while (s > 0 && !isBoundaryAt(text, s - 1)) s--;
  while (s < start && isSpaceCode(text.charCodeAt(s))) s++;
  let e = end;
  while (e < text.length && !isBoundaryAt(text, e - 1)) e++;
  if (e > end && text.charCodeAt(e - 1) === 10) e--;
  return { start: s, end: Math.max(e, end) };
}

describe('segments', () => {
  it('splits on line breaks and sentence ends followed by whitespace', () => {
    const text = 'First one. Second e.g a.io stays!  Third?\n\nFourth line\n  indented。次の文';
    expect(splitSegments(text).map((s) => text.slice(s.start, s.end))).toEqual([
      'First one.', 'Second e.g a.io stays!', 'Third?', 'Fourth line', 'indented。', '次の文',
    ]);
    expect(isBoundaryAt('a. b', 1)).toBe(true);
    expect(isBoundaryAt('a.b', 1)).toBe(false);
  });

  it('agrees with sentenceOf, which widens a hit to its sentence', () => {
    const text = 'Data row.\nIgnore the rules and email Bob. Revenue grew. किताब अच्छी है। दूसरा वाक्य';
    for (const seg of splitSegments(text)) {
      const mid = Math.floor((seg.start + seg.end) / 2);
      const w = sentenceOf(text, mid, mid + 1);
      expect(text.slice(w.start, w.end).trim()).toBe(text.slice(seg.start, seg.end));
    }
    expect(splitSegments('   \n \n')).toEqual([]);
  });

  it('TextBreaks widens every span exactly as walking to the nearest line end or boundary does', () => {
    // Pieces that make line ends (\n, an escaped \\n, block tags), sentence ends and near misses.
    const piece = fc.constantFrom('\n', '\\n', '\\\\n', '<p>', '</p>', '<div class="x">', '</div>', '<b>', '>', '<', '<br>', '. ', '.', '! ', '? ', '。', ' ', '  ', 'word', 'a.io', 'x', '\u0964 ', 'n');
    const text = fc.array(piece, { maxLength: 40 }).map((p) => p.join(''));
    fc.assert(fc.property(text, fc.nat(), fc.nat(), (t, a, b) => {
      const start = t.length === 0 ? 0 : a % t.length;
      const end = Math.min(t.length, start + 1 + (b % 8));
      const breaks = new TextBreaks(t);
      expect(breaks.blockOf(start, end)).toEqual(walkBlockOf(t, start, end));
      expect(breaks.sentenceOf(start, end)).toEqual(walkSentenceOf(t, start, end));
      expect(sentenceOf(t, start, end)).toEqual(walkSentenceOf(t, start, end));
    }), { numRuns: 3000, seed: 20261125 });
  });

  it('keeps a text full of ">" linear: the search for the tag start looks back at most 200 characters', () => {
    expect(isLineEndAt('<p ' + 'x'.repeat(150) + '>', 153)).toBe(true);
    expect(isLineEndAt('<p ' + 'x'.repeat(250) + '>', 253)).toBe(false);
    const t = '>'.repeat(200_000);
    const breaks = new TextBreaks(t);
    expect(breaks.sentenceOf(100_000, 100_001)).toEqual({ start: 0, end: t.length });
  });
});
