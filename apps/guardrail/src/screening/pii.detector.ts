/**
 * PII detection with spans: e-mail, phone (international and national formats, Chinese
 * mobiles), payment cards (Luhn), IBAN (mod-97), US SSN, US driver's licence (keyword
 * context only), Chinese resident id (GB 11643 checksum + birth date), IPv4 and IPv6.
 * Runs on the `clean` view (case kept); checksums and context words keep random digit
 * runs (ids, totals, populations, order numbers) from being flagged.
 */

export type PiiType =
  | 'email'
  | 'phone'
  | 'cn_mobile'
  | 'credit_card'
  | 'iban'
  | 'ssn'
  | 'us_driver_license'
  | 'cn_resident_id'
  | 'ipv4'
  | 'ipv6';

export interface PiiMatch {
  type: PiiType;
  start: number;
  end: number;
}

const EMAIL = /(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![\w-])/g;
const IBAN = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?(?![A-Za-z0-9])/g;
// A letter or digit right before the digits means they are part of an id (a driver licence "D1234…"), not a card.
const CARD = /(?<![\w+-])\d(?:[ -]?\d){11,18}(?![\d])/g;
const CARD_PREFIX = /^(?:4|5[0-9]|2[2-7]|3[0-8]|6|1800|2131)/;
// Right after a card word, any Luhn-valid number counts (private-label and test ranges).
const CARD_CONTEXT = /\b(?:card|cc|visa|mastercard|amex)\b(?: ?(?:number|no\.?|#))?[^\n\w]{0,3}$/i;
const SSN = /(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g;
// Nine bare digits are an SSN only right after an SSN keyword.
const SSN_BARE = /\b(?:ssn|social security(?: number| no\.?)?)\b[^\d\n]{0,12}(?<!\d)(\d{9})(?!\d)/gi;
// Chinese resident id (GB 11643-1999): 6-digit region (first digit 1-8), birth date YYYYMMDD,
// 3-digit sequence, mod-11 check character (0-9 or X).
const CN_ID = /(?<![A-Za-z0-9])[1-8]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![A-Za-z0-9])/g;
const CN_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CN_ID_CHECK = '10X98765432';
// Chinese mobile: 1[3-9]x + 8 digits, optionally +86 / 86 / 0086, grouped 3-4-4 by spaces or dashes.
const CN_MOBILE = /(?<![\w+])(\+86[ -]?|0086[ -]?|86[ -]?)?(1[3-9]\d)([ -]?)(\d{4})\3(\d{4})(?!\d)/g;
const IPV4 = /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)/g;
// IPv6 candidates (validated by ipv6Valid): hex groups and colons, optionally ending in an IPv4.
const IPV6 = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\d)/g;
// International: +CC, optional (0)/(area), then 2..5 groups; extension allowed.
const PHONE_INTL = /(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,5}(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?!\d)/g;
// National: (area) or separated digit groups, e.g. (602)272-9781, 0490 75 40 81, 03.93.92.16.85, 0341 8387176.
const PHONE_NATIONAL = /(?<![\w.+-])(?:\(\d{2,5}\) ?|\d{2,5}[ .-])\d{2,8}(?:[ .-]\d{2,8}){0,4}(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w.:-]\d|\d)/g;
// Bare digit runs are phones only with a phone word around them.
const PHONE_BARE = /(?<![\w.+-])\d{8,12}(?![\w.-]\d|\d)/g;
// A phone word shortly before a number ("Phone:", "call me on", "fax", "手机") ...
const PHONE_CONTEXT_BEFORE = /(?:\b(?:phone|tel|telephone|mobile|cell|fax|call|dial|ring|sms|whatsapp|desk|office|contact|reach)\b|手机|电话|联系|微信)[^\n\d]{0,20}$/i;
// ... or a line label right after it ("555 0134-Office").
const PHONE_CONTEXT_AFTER = /^[ -]{0,3}(?:office|fax|mobile|home|work|cell|desk)\b/i;
// A date (possibly followed by an hour) is not a phone number.
const DATE_LIKE = /^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4})(?!\d)/;
// Postcodes: US ZIP+4 (12345-6789) and Brazilian CEP (12345-678).
const ZIP_LIKE = /^\d{5}-\d{3,4}$/;
const DIGIT = /\d/g;
// US driver's licence: state formats vary (1-2 letters + digits, all digits, a few with dashes),
// so a token is only taken right after a licence keyword.
const DRIVER_LICENSE = /\b(?:driver'?s?|driving)[ -]?licen[cs]e(?: (?:number|no\.?|#|id))?|\bDL(?: ?#| number| no\.?)?(?=[\s:#])/gi;
const DL_VALUE = /^[^\n\w]{0,12}(?:(?:is|was|number|no|#)\b[^\n\w]{0,4})?([A-Za-z]{0,2}\d[\d-]{3,15}\d|[A-Za-z]{1,2}\d{3,14}|[A-Za-z0-9]{1,3}\*\d{5,10})(?![\w-])/;

function digitsOf(s: string): string {
  return s.replace(/\D/g, '');
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export function ibanValid(raw: string): boolean {
  const s = raw.replace(/ /g, '').toUpperCase();
  if (s.length < 15 || s.length > 34) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const c = ch.charCodeAt(0);
    const v = c >= 65 ? String(c - 55) : ch;
    for (const d of v) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

function ssnValid(area: string, group: string, serial: string): boolean {
  return area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
}

/** GB 11643 resident id: 18 characters, a real birth date (1900..today) and the mod-11 check character. */
export function cnResidentIdValid(id: string, now: Date = new Date()): boolean {
  if (!/^[1-8]\d{16}[\dXx]$/.test(id)) return false;
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || birth.getUTCFullYear() !== y || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d) return false;
  if (birth.getTime() > now.getTime()) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (id.charCodeAt(i) - 48) * CN_ID_WEIGHTS[i];
  return CN_ID_CHECK[sum % 11] === id[17].toUpperCase();
}

/** A syntactically valid IPv6 address (full, `::`-compressed, or with a trailing IPv4). */
export function ipv6Valid(s: string): boolean {
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groupsOf = (h: string): string[] | null => (h === '' ? [] : h.split(':'));
  const parts = halves.map(groupsOf);
  let count = 0;
  for (let p = 0; p < parts.length; p++) {
    const groups = parts[p] as string[];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      const last = p === parts.length - 1 && i === groups.length - 1;
      if (last && g.includes('.')) {
        if (!/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(g)) return false;
        count += 2;
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) count++;
      else return false;
    }
  }
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** IPv6 worth reporting: valid, at least two non-empty groups and a digit (so `::1`, `a::b` and
 * C++ `std::x`-like text stay out), and not eight 2-digit groups (an EUI-64 / MAC-style id). */
function ipv6Reportable(s: string): boolean {
  if (!ipv6Valid(s) || !/\d/.test(s)) return false;
  const groups = s.split(/:+/).filter((g) => g !== '');
  if (groups.length < 2) return false;
  return !(groups.length === 8 && groups.every((g) => g.length === 2));
}

function phoneContext(text: string, start: number, end: number): boolean {
  const before = text.slice(Math.max(0, start - 40), start);
  return PHONE_CONTEXT_BEFORE.test(before) || PHONE_CONTEXT_AFTER.test(text.slice(end, end + 12));
}

function overlaps(found: readonly PiiMatch[], start: number, end: number): boolean {
  return found.some((f) => start < f.end && end > f.start);
}

function add(found: PiiMatch[], type: PiiType, start: number, end: number): void {
  if (!overlaps(found, start, end)) found.push({ type, start, end });
}

/** National-format phone shapes that need a phone word around them to count. */
function weakPhoneShape(text: string, core: string, n: number, end: number): boolean {
  const groups = core.split(/[ .-]|\) ?/).filter((g) => g !== '');
  if (groups.length === 2 && !core.startsWith('(')) {
    // "4521 3318 Larkspur Ave": a house number pair before a street name.
    if (/^ [A-Za-z]/.test(text.slice(end, end + 2))) return true;
    // "450 0840" or "12345-678": short pairs are as often postcodes, ranges or amounts.
    if (n < 8 || ZIP_LIKE.test(core)) return true;
  }
  return false;
}

/** Finds PII in `text`; spans are offsets into `text`, non-overlapping, in detection priority. */
export function detectPii(text: string): PiiMatch[] {
  const found: PiiMatch[] = [];
  if (text.includes('@')) {
    for (const m of text.matchAll(EMAIL)) add(found, 'email', m.index, m.index + m[0].length);
  }
  const hasDigit = /\d/.test(text);
  if (!hasDigit) return found;
  for (const m of text.matchAll(IBAN)) {
    if (ibanValid(m[0])) add(found, 'iban', m.index, m.index + m[0].length);
  }
  for (const m of text.matchAll(CN_ID)) {
    if (cnResidentIdValid(m[0])) add(found, 'cn_resident_id', m.index, m.index + m[0].length);
  }
  for (const m of text.matchAll(CARD)) {
    const d = digitsOf(m[0]);
    if (d.length < 12 || d.length > 19 || !luhnValid(d) || /^(\d)\1+$/.test(d)) continue;
    if (CARD_PREFIX.test(d) || CARD_CONTEXT.test(text.slice(Math.max(0, m.index - 24), m.index))) {
      add(found, 'credit_card', m.index, m.index + m[0].length);
    }
  }
  for (const m of text.matchAll(SSN)) {
    if (ssnValid(m[1], m[3], m[4])) add(found, 'ssn', m.index, m.index + m[0].length);
  }
  if (/ss|social/i.test(text)) {
    for (const m of text.matchAll(SSN_BARE)) {
      const v = m[1];
      const start = m.index + m[0].length - v.length;
      if (ssnValid(v.slice(0, 3), v.slice(3, 5), v.slice(5))) add(found, 'ssn', start, start + v.length);
    }
  }
  if (/licen[cs]e|\bDL\b/i.test(text)) {
    for (const m of text.matchAll(DRIVER_LICENSE)) {
      const after = m.index + m[0].length;
      const v = DL_VALUE.exec(text.slice(after, after + 48));
      if (v === null || !/\d{4}/.test(v[1].replace(/-/g, ''))) continue;
      const start = after + v[0].length - v[1].length;
      add(found, 'us_driver_license', start, start + v[1].length);
    }
  }
  for (const m of text.matchAll(IPV4)) add(found, 'ipv4', m.index, m.index + m[0].length);
  if (text.includes(':')) {
    for (const m of text.matchAll(IPV6)) {
      if (ipv6Reportable(m[0])) add(found, 'ipv6', m.index, m.index + m[0].length);
    }
  }
  for (const m of text.matchAll(CN_MOBILE)) {
    // Bare 11-digit runs (no +86, no 3-4-4 grouping) are order numbers as often as phones.
    const strong = m[1] !== undefined || m[3] !== '';
    if (strong || phoneContext(text, m.index, m.index + m[0].length)) add(found, 'cn_mobile', m.index, m.index + m[0].length);
  }
  for (const m of text.matchAll(PHONE_INTL)) {
    const n = (m[0].replace(/(?:x|ext\.?)\s?\d+$/, '').match(DIGIT) ?? []).length;
    if (n >= 8 && n <= 15) add(found, 'phone', m.index, m.index + m[0].trimEnd().length);
  }
  for (const m of text.matchAll(PHONE_NATIONAL)) {
    const end = m.index + m[0].length;
    const core = m[0].replace(/\s?(?:x|ext\.?)\s?\d+$/, '');
    const n = (core.match(DIGIT) ?? []).length;
    // SSN-shaped numbers that failed the SSN check are not phones either.
    if (n < 7 || n > 13 || DATE_LIKE.test(core) || /^\d{3}-\d{2}-\d{4}$/.test(core)) continue;
    if (weakPhoneShape(text, core, n, end) && !phoneContext(text, m.index, end)) continue;
    // "12 000 000", "$ 1 250 000": amounts with space or dot thousand separators.
    if (/^\d{1,3}(?:([ .])\d{3})(?:\1\d{3})*$/.test(core) && (/000$/.test(core) || /[$€£¥]\s?$/.test(text.slice(Math.max(0, m.index - 2), m.index)))) continue;
    add(found, 'phone', m.index, end);
  }
  for (const m of text.matchAll(PHONE_BARE)) {
    const end = m.index + m[0].length;
    if (phoneContext(text, m.index, end)) add(found, 'phone', m.index, end);
  }
  return found;
}
