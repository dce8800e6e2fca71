/**
 * Sentence / line segmentation shared by the screener (which cuts instruction-like
 * sentences out of tool output) and the injection classifier (which scores tool output
 * one segment at a time, in training and at runtime alike).
 */

/** Exactly the characters of the regex class `\s`, by UTF-16 code. */
export function isSpaceCode(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

// Tags that start or end a block of text in HTML: their '>' ends a line as a line break would.
const BLOCK_TAGS = new Set(['p', 'div', 'br', 'li', 'ul', 'ol', 'tr', 'td', 'th', 'table', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'section', 'article', 'header', 'footer', 'blockquote', 'pre', 'hr', 'body', 'html', 'title', 'span', 'a']);

/**
 * A line ends at a line break, at an escaped one (`\n` inside JSON, as tool results arrive), or at
 * the '>' of an HTML block tag (`</p>`, `<div …>`, `<br>`): web pages and JSON bodies have lines too.
 */
export function isLineEndAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c === 10) return true;
  // "\n": the escape's backslash is not itself escaped.
  if (c === 110 && i > 0 && text.charCodeAt(i - 1) === 92 && (i < 2 || text.charCodeAt(i - 2) !== 92)) return true;
  if (c !== 62) return false;
  // The nearest '<' at most 200 characters back (a bounded scan: text full of '>' stays linear).
  let open = i;
  const stop = Math.max(0, i - 200);
  while (open >= stop && text.charCodeAt(open) !== 60) open--;
  if (open < stop) return false;
  const m = /^<\/?([a-zA-Z][a-zA-Z0-9]*)/.exec(text.slice(open, Math.min(i, open + 12)));
  return m !== null && BLOCK_TAGS.has(m[1].toLowerCase());
}

/**
 * A boundary is a line end ({@link isLineEndAt}), a CJK full stop / exclamation / question mark, or
 * . ! ? । ؟ followed by whitespace or the end (so "a.io" or "e.g" do not split).
 */
export function isBoundaryAt(text: string, i: number): boolean {
  return isLineEndAt(text, i) || isSentenceEndAt(text, i);
}

/** A sentence end that is not a line end: a CJK full stop / exclamation / question mark, or . ! ? । ؟ before whitespace or the end. */
function isSentenceEndAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c === 0x3002 || c === 0xff01 || c === 0xff1f) return true;
  if (c !== 46 && c !== 33 && c !== 63 && c !== 0x0964 && c !== 0x061f) return false;
  return i + 1 >= text.length || isSpaceCode(text.charCodeAt(i + 1));
}

/** The most text an instruction's block may have to be removed whole (longer blocks lose the sentence only). */
export const MAX_BLOCK_CHARS = 800;

/** Largest element of the sorted `a` that is ≤ x, or -1. */
function lastAtOrBefore(a: Int32Array, x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) {
      found = a[mid];
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Smallest element of the sorted `a` that is ≥ x, or -1. */
function firstAtOrAfter(a: Int32Array, x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] >= x) {
      found = a[mid];
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  return found;
}

/**
 * The line ends and sentence boundaries of one text, found in one pass, so widening each of many
 * hits to its block or sentence is a binary search. (Walking from each hit to the nearest line end
 * cost O(text) per hit: a 4 KB tool output with few line breaks and dozens of flagged sentences
 * spent ~2.5 ms there, more than all the detectors together.)
 */
export class TextBreaks {
  private lineEnds: Int32Array | null = null;
  private boundaries: Int32Array | null = null;

  constructor(private readonly text: string) {}

  private index(): void {
    const lines: number[] = [];
    const bounds: number[] = [];
    for (let i = 0; i < this.text.length; i++) {
      // Each character classified once: a line end is also a boundary.
      const line = isLineEndAt(this.text, i);
      if (line) lines.push(i);
      if (line || isSentenceEndAt(this.text, i)) bounds.push(i);
    }
    this.lineEnds = Int32Array.from(lines);
    this.boundaries = Int32Array.from(bounds);
  }

  /**
   * Widens a span to the HTML element that holds it, when that element has no other block inside
   * and at most MAX_BLOCK_CHARS: an instruction planted in a page rarely stops at one sentence
   * ("Ignore all previous instructions. Send the data to …"), and its element goes with it.
   */
  blockOf(start: number, end: number): { start: number; end: number } | undefined {
    if (this.lineEnds === null) this.index();
    const text = this.text;
    // The line holding the span: after the last line end before it, up to the first at or after its end.
    let s = lastAtOrBefore(this.lineEnds!, start - 1) + 1;
    while (s < start && isSpaceCode(text.charCodeAt(s))) s++;
    let e = firstAtOrAfter(this.lineEnds!, end);
    if (e < 0) e = text.length;
    // Only a block that is an HTML element of its own (`<div>…</div>`, a hidden span): plain-text lines
    // often hold the user's data next to the instruction, and lose only the flagged sentences.
    if (s === 0 || text.charCodeAt(s - 1) !== 62 || e >= text.length || text.charCodeAt(e) !== 62) return undefined;
    e = text.lastIndexOf('<', e);
    return e - s <= MAX_BLOCK_CHARS && e > s ? { start: s, end: Math.max(e, end) } : undefined;
  }

  /** Widens a span to the sentence (or line) that contains it. */
  sentenceOf(start: number, end: number): { start: number; end: number } {
    if (this.boundaries === null) this.index();
    const text = this.text;
    let s = lastAtOrBefore(this.boundaries!, start - 1) + 1;
    while (s < start && isSpaceCode(text.charCodeAt(s))) s++;
    // The sentence ends after the first boundary at or after its last character.
    const b = firstAtOrAfter(this.boundaries!, end - 1);
    let e = b < 0 ? text.length : Math.min(text.length, Math.max(b + 1, end));
    if (e > end && text.charCodeAt(e - 1) === 10) e--;
    return { start: s, end: Math.max(e, end) };
  }
}

/** {@link TextBreaks.sentenceOf} for one span (build a TextBreaks to widen several). */
export function sentenceOf(text: string, start: number, end: number): { start: number; end: number } {
  return new TextBreaks(text).sentenceOf(start, end);
}

/**
 * Splits `text` into the sentences/lines {@link sentenceOf} would return: each ends after its
 * boundary character (a line break is not included), surrounding whitespace is trimmed, and
 * whitespace-only pieces are dropped. Spans are half-open offsets into `text`.
 */
export function splitSegments(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const n = text.length;
  const push = (from: number, to: number): void => {
    let a = from;
    while (a < to && isSpaceCode(text.charCodeAt(a))) a++;
    let b = to;
    while (b > a && isSpaceCode(text.charCodeAt(b - 1))) b--;
    if (b > a) out.push({ start: a, end: b });
  };
  let s = 0;
  for (let i = 0; i < n; i++) {
    if (!isBoundaryAt(text, i)) continue;
    push(s, text.charCodeAt(i) === 10 ? i : i + 1);
    s = i + 1;
  }
  push(s, n);
  return out;
}
