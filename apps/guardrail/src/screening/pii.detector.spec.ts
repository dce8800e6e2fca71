import { describe, expect, it } from '@jest/globals';
import { detectPii, ibanValid, luhnValid } from './pii.detector';

const types = (text: string): string[] => detectPii(text).map((m) => `${m.type}:${text.slice(m.start, m.end)}`);

describe('detectPii', () => {
  it('finds e-mail, SSN, IPv4 and IBAN with exact spans', () => {
    expect(types('Mail UtaKortig@jourrapide.com now')).toEqual(['email:UtaKortig@jourrapide.com']);
    expect(types("Here's my SSN: 460-89-9847")).toEqual(['ssn:460-89-9847']);
    expect(types('server at 86.121.97.248.')).toEqual(['ipv4:86.121.97.248']);
    expect(types('IBAN GB82 WEST 1234 5698 7654 32 please')).toEqual(['iban:GB82 WEST 1234 5698 7654 32']);
  });

  it('accepts only Luhn-valid card numbers', () => {
    expect(types('card 4454794511390933?')).toEqual(['credit_card:4454794511390933']);
    expect(types('card 4111 1111 1111 1111')).toEqual(['credit_card:4111 1111 1111 1111']);
    expect(types('order 4454794511390934')).toEqual([]);
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(ibanValid('GB82WEST12345698765433')).toBe(false);
  });

  it('finds phone numbers in international and national formats', () => {
    expect(types('call +41 (0)96 471 07 95 today')).toEqual(['phone:+41 (0)96 471 07 95']);
    expect(types('or (602)272-9781')).toEqual(['phone:(602)272-9781']);
    expect(types('tel 0490 75 40 81')).toEqual(['phone:0490 75 40 81']);
    expect(types('+1-903-140-4508x769')).toEqual(['phone:+1-903-140-4508x769']);
  });

  it('does not flag dates, versions, invalid SSNs or populations', () => {
    expect(types('released 2022-02-03, version 1.2.3, population 1,439,323,776')).toEqual([]);
    expect(types('not an ssn 000-12-3456 or 666-12-3456')).toEqual([]);
  });
});
