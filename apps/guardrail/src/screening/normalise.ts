/**
 * Normalisation before detection. Attackers hide trigger phrases behind invisible
 * characters, compatibility forms, look-alike letters and leetspeak; detectors run
 * on normalised views, and every view keeps a map back to the original so that
 * redaction always cuts the text the caller actually sent.
 */

/** A derived string plus, for each UTF-16 unit, the original span it came from. */
export interface TextView {
  readonly text: string;
  /** Original start offset of `text[i]`; `null` means the identity map. */
  readonly starts: Readonly<ArrayLike<number>> | null;
  /** Original end offset (exclusive) of `text[i]`; `null` means the identity map. */
  readonly ends: Readonly<ArrayLike<number>> | null;
}

export interface NormalisedText {
  readonly original: string;
  /** NFKC, invisible/bidi controls removed, Unicode tag characters decoded; case kept. For PII and secrets. */
  readonly clean: TextView;
  /** `clean` lower-cased with homoglyphs and leetspeak folded and `l` merged into `i`. For injection rules only. */
  readonly match: TextView;
}

export interface Span {
  start: number;
  end: number;
}

/** Maps a half-open span of a view back to the original text. */
export function toOriginalSpan(view: TextView, start: number, end: number): Span {
  if (view.starts === null || view.ends === null) return { start, end };
  if (view.text.length === 0) return { start: 0, end: 0 };
  const s = Math.min(Math.max(start, 0), view.text.length - 1);
  const e = Math.min(Math.max(end - 1, s), view.text.length - 1);
  return { start: view.starts[s], end: view.ends[e] };
}

// Invisible format characters that render as nothing: zero-width, bidi embeddings,
// overrides and isolates, soft hyphen, word joiners, variation selectors, fillers.
function isInvisible(cp: number): boolean {
  return (
    cp === 0x00ad || cp === 0x034f || cp === 0x061c || cp === 0x115f || cp === 0x1160 ||
    cp === 0x17b4 || cp === 0x17b5 || (cp >= 0x180b && cp <= 0x180f) ||
    (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x206f) || cp === 0x3164 || (cp >= 0xfe00 && cp <= 0xfe0f) ||
    cp === 0xfeff || cp === 0xffa0 || (cp >= 0xe0100 && cp <= 0xe01ef) ||
    cp === 0xe0000 || cp === 0xe0001 || cp === 0xe007f
  );
}

const NON_ASCII = /[\u0080-\uffff]/;
const MARK = /^\p{M}$/u;
const STRAY_DIACRITICS = /(?<=.)[\u0300-\u036f]/gu;

// \p{M} membership of BMP code points, filled in lazily (0 = not known yet, 1 = no, 2 = yes), so
// the hot loop does not build a one-character string per test.
const BMP_MARK = new Uint8Array(0x10000);

function isMarkAt(text: string, i: number): boolean {
  const cp = text.codePointAt(i);
  if (cp === undefined || cp < 0x300) return false;
  if (cp > 0xffff) return MARK.test(String.fromCodePoint(cp));
  let known = BMP_MARK[cp];
  if (known === 0) {
    known = MARK.test(String.fromCharCode(cp)) ? 2 : 1;
    BMP_MARK[cp] = known;
  }
  return known === 2;
}

/** Builds the `clean` view: invisibles dropped, tag characters decoded, NFKC per grapheme-ish cluster. */
export function cleanView(text: string): TextView {
  // Fast path: pure ASCII is already NFKC and holds no invisible characters.
  if (!NON_ASCII.test(text)) return { text, starts: null, ends: null };
  const parts: string[] = [];
  const n = text.length;
  // Offset maps in typed arrays (NFKC can lengthen the text, so they grow on demand): a 4 KB
  // message used to allocate ~200 KB of JS arrays here, and the garbage showed up as p99 latency.
  let starts = new Int32Array(n + 16);
  let ends = new Int32Array(n + 16);
  let len = 0;
  const push = (s: number, e: number): void => {
    if (len === starts.length) {
      const s2 = new Int32Array(starts.length * 2);
      s2.set(starts);
      starts = s2;
      const e2 = new Int32Array(ends.length * 2);
      e2.set(ends);
      ends = e2;
    }
    starts[len] = s;
    ends[len] = e;
    len++;
  };
  let i = 0;
  while (i < n) {
    // Copy a run of ASCII in one go (its last character may take combining marks).
    let j = i;
    while (j < n && text.charCodeAt(j) < 0x80) j++;
    if (j < n && j > i && isMarkAt(text, j)) j--;
    if (j > i) {
      parts.push(text.slice(i, j));
      for (let k = i; k < j; k++) push(k, k + 1);
      i = j;
      continue;
    }
    const cp = text.codePointAt(i) as number;
    const cpLen = cp > 0xffff ? 2 : 1;
    if (isInvisible(cp)) {
      i += cpLen;
      continue;
    }
    // Unicode tag characters (U+E0020..E007E) smuggle invisible ASCII: decode them.
    if (cp >= 0xe0020 && cp <= 0xe007e) {
      parts.push(String.fromCharCode(cp - 0xe0000));
      push(i, i + cpLen);
      i += cpLen;
      continue;
    }
    // A base character plus its combining marks normalises as one unit.
    j = i + cpLen;
    while (j < n && isMarkAt(text, j)) {
      j += (text.codePointAt(j) as number) > 0xffff ? 2 : 1;
    }
    let cluster = text.slice(i, j);
    if (j > i + cpLen) cluster = Array.from(cluster).filter((c) => !isInvisible(c.codePointAt(0) as number)).join('');
    // Diacritics NFKC could not compose onto their base are decoration (zalgo): drop them.
    const norm = cluster.normalize('NFKC').replace(STRAY_DIACRITICS, '');
    parts.push(norm);
    for (let k = 0; k < norm.length; k++) push(i, j);
    i = j;
  }
  return { text: parts.join(''), starts: starts.subarray(0, len), ends: ends.subarray(0, len) };
}

// Look-alikes of Latin letters (lower-case targets). Only folded inside words that
// also contain ASCII letters, so genuine Russian or Greek text keeps its letters.
const HOMOGLYPHS: Readonly<Record<string, string>> = {
  // Cyrillic
  'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'і': 'i', 'ї': 'i',
  'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'һ': 'h', 'ӏ': 'l', 'к': 'k', 'м': 'm', 'т': 't', 'п': 'n',
  'г': 'r', 'ь': 'b', 'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c',
  'Т': 't', 'Х': 'x', 'У': 'y', 'І': 'i', 'Ј': 'j', 'Ѕ': 's', 'Ԁ': 'd', 'Ӏ': 'l',
  // Greek
  'α': 'a', 'β': 'b', 'γ': 'y', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't',
  'υ': 'u', 'χ': 'x', 'ω': 'w', 'ϲ': 'c', 'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k',
  'Μ': 'm', 'Ν': 'n', 'Ο': 'o', 'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x',
  // Latin extensions and small capitals
  'ı': 'i', 'ȷ': 'j', 'ɑ': 'a', 'ɡ': 'g', 'ɩ': 'i', 'ʟ': 'l', 'ɴ': 'n', 'ʀ': 'r', 'ꜱ': 's', 'ᴀ': 'a', 'ᴄ': 'c',
  'ᴅ': 'd', 'ᴇ': 'e', 'ᴊ': 'j', 'ᴋ': 'k', 'ᴍ': 'm', 'ᴏ': 'o', 'ᴘ': 'p', 'ᴛ': 't', 'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w',
  'ᴢ': 'z', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i',
  // Armenian
  'օ': 'o', 'ս': 'u', 'հ': 'h', 'ց': 'g',
};

// Leetspeak digits and symbols; only folded inside words that contain ASCII letters.
const LEET: Readonly<Record<string, string>> = {
  '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '6': 'g', '7': 't', '8': 'b', '9': 'g',
  '@': 'a', '$': 's', '!': 'i', '|': 'i', '+': 't', '€': 'e',
};
const LEET_SYMBOLS = '@$!|+€';

const ASCII_LETTER = /[A-Za-z]/;
const ALNUM = /^[\p{L}\p{N}]$/u;

// Words that may need folding: anything beyond plain lower-case ASCII letters.
const NEEDS_FOLD = /[^a-z_]/;

// foldWord only changes characters listed in HOMOGLYPHS or LEET, so only words holding one need
// it. foldAll walks the text once and hands exactly those whole words (maximal runs of word
// characters that contain a foldable character) to foldWord; ordinary prose is not copied.
// Word characters for folding purposes: letters, marks, digits, underscore and leet symbols.
const FOLD_WORD_CHAR = /^[\p{L}\p{M}\p{N}_@$!|+€]$/u;
// Per BMP code unit: 0 = not known yet, 1 = not a word character, 2 = word character.
const BMP_FOLD_WORD = new Uint8Array(0x10000);
const FOLDABLE = new Uint8Array(0x10000);
for (const c of [...Object.keys(HOMOGLYPHS), ...Object.keys(LEET)]) FOLDABLE[c.charCodeAt(0)] = 1;

/** Length in UTF-16 units (1 or 2) of the word character at text[i], or 0 if there is none. */
function foldWordCharAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return FOLD_WORD_CHAR.test(text.slice(i, i + 2)) ? 2 : 0;
  }
  let known = BMP_FOLD_WORD[c];
  if (known === 0) {
    known = c >= 0xd800 && c <= 0xdfff ? 1 : FOLD_WORD_CHAR.test(String.fromCharCode(c)) ? 2 : 1;
    BMP_FOLD_WORD[c] = known;
  }
  return known === 2 ? 1 : 0;
}

function foldAll(text: string): string {
  const n = text.length;
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < n) {
    let w = foldWordCharAt(text, i);
    if (w === 0) {
      i++;
      continue;
    }
    const ws = i;
    let foldable = false;
    do {
      if (w === 1 && FOLDABLE[text.charCodeAt(i)] === 1) foldable = true;
      i += w;
      w = i < n ? foldWordCharAt(text, i) : 0;
    } while (w > 0);
    if (!foldable) continue;
    const word = text.slice(ws, i);
    const folded = foldWord(word);
    if (folded === word) continue;
    out += text.slice(copied, ws) + folded;
    copied = i;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function foldWord(word: string): string {
  if (!NEEDS_FOLD.test(word) || !ASCII_LETTER.test(word)) return word;
  let out = '';
  for (let k = 0; k < word.length; k++) {
    const ch = word[k];
    let folded = HOMOGLYPHS[ch];
    if (folded === undefined && LEET[ch] !== undefined) {
      const next = word[k + 1];
      const prev = word[k - 1];
      const inside = next !== undefined && ALNUM.test(next);
      // A trailing "$" after a letter is an "s" ("instruction$"); other trailing symbols are punctuation.
      const trailingS = ch === '$' && next === undefined && prev !== undefined && ASCII_LETTER.test(prev);
      if (!LEET_SYMBOLS.includes(ch) || inside || trailingS) folded = LEET[ch];
    }
    out += folded ?? ch;
  }
  return out;
}

/**
 * Builds the `match` view from `clean`: lower case, homoglyphs and leetspeak folded in
 * Latin-looking words, `l` merged into `i`. Every step maps one UTF-16 unit to one, so
 * the view shares `clean`'s offset maps.
 */
export function matchView(clean: TextView): TextView {
  let lower = clean.text.toLowerCase();
  // A few characters lower-case to two units (e.g. U+0130); keep those unchanged to stay 1:1.
  if (lower.length !== clean.text.length) lower = Array.from(clean.text, (c) => (c.toLowerCase().length === c.length ? c.toLowerCase() : c)).join('');
  const folded = foldAll(lower).replace(/l/g, 'i');
  return { text: folded, starts: clean.starts, ends: clean.ends };
}

export function normalise(text: string): NormalisedText {
  const clean = cleanView(text);
  return { original: text, clean, match: matchView(clean) };
}
