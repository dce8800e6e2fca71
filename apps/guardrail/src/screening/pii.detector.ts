/**
 * PII detection with spans: e-mail, phone (international formats), payment cards
 * (Luhn), IBAN (mod-97), US SSN and IPv4. Runs on the `clean` view (case kept);
 * checksums keep random digit runs (ids, totals, populations) from being flagged.
 */

export type PiiType = 'email' | 'phone' | 'credit_card' | 'iban' | 'ssn' | 'ipv4';

export interface PiiMatch {
  type: PiiType;
  start: number;
  end: number;
}

const EMAIL = /(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![\w-])/g;
const IBAN = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?(?![A-Za-z0-9])/g;
const CARD = /(?<![\d+-])\d(?:[ -]?\d){11,18}(?![\d])/g;
const CARD_PREFIX = /^(?:4|5[0-9]|2[2-7]|3[0-8]|6|1800|2131)/;
const SSN = /(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g;
const IPV4 = /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)/g;
// International: +CC, optional (0)/(area), then 2..5 groups; extension allowed.
const PHONE_INTL = /(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,5}(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?!\d)/g;
// National: (area) or separated digit groups, e.g. (602)272-9781, 0490 75 40 81, 03.93.92.16.85.
const PHONE_NATIONAL = /(?<![\w.+-])(?:\(\d{2,4}\) ?|\d{2,4}[ .-])\d{2,4}(?:[ .-]\d{2,4}){0,3}(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w.-]\d|\d)/g;
// Bare digit runs only with a phone keyword just before them.
const PHONE_BARE = /(?:phone|tel|telephone|mobile|cell|fax|call|whatsapp|number|no\.)[^\d\n]{0,12}(\d{8,12})(?!\d)/gi;
// A date (possibly followed by an hour) is not a phone number.
const DATE_LIKE = /^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4})(?!\d)/;
const DIGIT = /\d/g;

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

function overlaps(found: readonly PiiMatch[], start: number, end: number): boolean {
  return found.some((f) => start < f.end && end > f.start);
}

function add(found: PiiMatch[], type: PiiType, start: number, end: number): void {
  if (!overlaps(found, start, end)) found.push({ type, start, end });
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
  for (const m of text.matchAll(CARD)) {
    const d = digitsOf(m[0]);
    if (d.length >= 12 && d.length <= 19 && CARD_PREFIX.test(d) && luhnValid(d) && !/^(\d)\1+$/.test(d)) {
      add(found, 'credit_card', m.index, m.index + m[0].length);
    }
  }
  for (const m of text.matchAll(SSN)) {
    if (ssnValid(m[1], m[3], m[4])) add(found, 'ssn', m.index, m.index + m[0].length);
  }
  for (const m of text.matchAll(IPV4)) add(found, 'ipv4', m.index, m.index + m[0].length);
  for (const m of text.matchAll(PHONE_INTL)) {
    const n = (m[0].replace(/(?:x|ext\.?)\s?\d+$/, '').match(DIGIT) ?? []).length;
    if (n >= 8 && n <= 15) add(found, 'phone', m.index, m.index + m[0].trimEnd().length);
  }
  for (const m of text.matchAll(PHONE_NATIONAL)) {
    const core = m[0].replace(/\s?(?:x|ext\.?)\s?\d+$/, '');
    const n = (core.match(DIGIT) ?? []).length;
    // SSN-shaped numbers that failed the SSN check are not phones either.
    if (n < 7 || n > 13 || DATE_LIKE.test(core) || /^\d{3}-\d{2}-\d{4}$/.test(core)) continue;
    // Two space-separated short groups are usually a house number and a postcode.
    if (n < 8 && /^\d+ \d+$/.test(core)) continue;
    add(found, 'phone', m.index, m.index + m[0].length);
  }
  for (const m of text.matchAll(PHONE_BARE)) {
    const start = m.index + m[0].length - m[1].length;
    add(found, 'phone', start, start + m[1].length);
  }
  return found;
}
