/**
 * Finds embedded base64 / hex / URL-encoded payloads so that instructions or secrets
 * hidden inside them are screened too. Only segments that plausibly are encodings
 * and decode to mostly printable UTF-8 are returned; everything else (hashes, ids,
 * camel-case words, binary blobs) is ignored.
 */

export type Encoding = 'base64' | 'hex' | 'url';

export interface EncodedSegment {
  /** Offsets in the text that was scanned. */
  start: number;
  end: number;
  encoding: Encoding;
  decoded: string;
}

/** Bounds the work one message can cause. */
export const MAX_SEGMENTS = 16;
const MAX_SEGMENT_CHARS = 64 * 1024;
const MIN_PRINTABLE_RATIO = 0.9;

// One pass finds maximal runs of the base64/base64url alphabet; hex-only runs are decoded as hex.
// Runs only start where the previous character is outside the alphabet: same matches as without
// the lookbehind (a leftmost run match always starts there), but the engine no longer retries
// every position inside each shorter word.
const B64_OR_HEX = /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}/g;
const HEX_ESCAPED = /(?:\\x[0-9A-Fa-f]{2}){4,}/g;
const HEX_SPACED = /(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2} ){7,}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])/g;
const HEX_SPACED_HINT = /[0-9A-Fa-f]{2} [0-9A-Fa-f]{2} [0-9A-Fa-f]{2} [0-9A-Fa-f]{2} /;
const URL_RUN = /[A-Za-z0-9._~+\-!*'()%]{9,}/g;
const PCT = /%[0-9A-Fa-f]{2}/g;
const HEX_ONLY = /^[0-9A-Fa-f]+$/;
const HAS_DIGIT = /\d/;
const HAS_UPPER = /[A-Z]/;
const HAS_LOWER = /[a-z]/;
const LETTERS = /\p{L}/gu;
const NON_PRINTABLE = /[^\P{C}\t\n\r]|\uFFFD/gu;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decoded bytes count as text only if valid UTF-8, mostly printable and with some letters. */
function asText(bytes: Buffer): string | null {
  if (bytes.length < 6) return null;
  let s: string;
  try {
    s = utf8.decode(bytes);
  } catch {
    return null;
  }
  const bad = s.match(NON_PRINTABLE)?.length ?? 0;
  if (bad / s.length > 1 - MIN_PRINTABLE_RATIO) return null;
  if ((s.match(LETTERS)?.length ?? 0) < 4) return null;
  return s;
}

function decodeBase64OrHex(seg: string): string | null {
  if (HEX_ONLY.test(seg)) return seg.length % 2 === 0 ? decodeHex(seg) : null;
  const body = seg.replace(/=+$/, '');
  if (body.length % 4 === 1) return null;
  // Plain words and identifiers are not base64: demand a digit or mixed case and symbols.
  if (!HAS_DIGIT.test(body) && !(HAS_UPPER.test(body) && HAS_LOWER.test(body))) return null;
  return asText(Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

function decodeHex(seg: string): string | null {
  const digits = seg.replace(/\\x| /g, '');
  return asText(Buffer.from(digits, 'hex'));
}

function decodeUrl(seg: string): string | null {
  const n = seg.match(PCT)?.length ?? 0;
  if (n < 3) return null;
  let s: string;
  try {
    s = decodeURIComponent(seg.replace(/\+/g, ' '));
  } catch {
    return null;
  }
  return s === seg ? null : asText(Buffer.from(s, 'utf8'));
}

function scan(
  text: string,
  re: RegExp,
  encoding: Encoding,
  decode: (seg: string) => string | null,
  out: EncodedSegment[],
): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null && out.length < MAX_SEGMENTS; m = re.exec(text)) {
    if (m[0].length > MAX_SEGMENT_CHARS) continue;
    const start = m.index;
    const end = start + m[0].length;
    if (out.some((s) => start < s.end && end > s.start)) continue;
    const decoded = decode(m[0]);
    // The base64 scan also finds hex-only runs, which are decoded as hex.
    if (decoded !== null) out.push({ start, end, encoding: encoding === 'base64' && HEX_ONLY.test(m[0]) ? 'hex' : encoding, decoded });
  }
}

function atLeast(text: string, re: RegExp, n: number): boolean {
  re.lastIndex = 0;
  let count = 0;
  while (count < n && re.exec(text) !== null) count++;
  return count >= n;
}

/** Returns decodable payload segments of `text`, at most {@link MAX_SEGMENTS}. */
export function findEncodedSegments(text: string): EncodedSegment[] {
  const out: EncodedSegment[] = [];
  if (text.length < 16) return out;
  if (text.includes('\\x')) scan(text, HEX_ESCAPED, 'hex', decodeHex, out);
  if (HEX_SPACED_HINT.test(text)) scan(text, HEX_SPACED, 'hex', decodeHex, out);
  // decodeUrl wants three %XX escapes inside one run, so a text with fewer has no URL payload.
  if (text.includes('%') && atLeast(text, PCT, 3)) scan(text, URL_RUN, 'url', decodeUrl, out);
  scan(text, B64_OR_HEX, 'base64', decodeBase64OrHex, out);
  return out;
}
