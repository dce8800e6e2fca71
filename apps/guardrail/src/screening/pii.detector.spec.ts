import { describe, expect, it } from '@jest/globals';
import { cnResidentIdValid, detectPii, ibanValid, ipv6Valid, luhnValid } from './pii.detector';

// Every example here is synthetic (made up for these tests), not taken from the evaluation data.
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
    // Digits glued to a letter are an id (e.g. a driver licence), not a card, even when Luhn happens to pass.
    expect(types('licence D4111111111111111')).not.toContain('credit_card:4111111111111111');
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(ibanValid('GB82WEST12345698765433')).toBe(false);
  });

  it('takes an unusual card prefix only right after a card word', () => {
    // 0000 0000 0000 0422 style numbers pass Luhn but start with no issuer prefix.
    expect(luhnValid('070812345679')).toBe(true);
    expect(types('points on credit card 070812345679 expired')).toEqual(['credit_card:070812345679']);
    expect(types('tracking 070812345679 arrived')).toEqual([]);
  });

  it('finds phone numbers in international and national formats', () => {
    expect(types('call +41 (0)96 471 07 95 today')).toEqual(['phone:+41 (0)96 471 07 95']);
    expect(types('or (602)272-9781')).toEqual(['phone:(602)272-9781']);
    expect(types('tel 0490 75 40 81')).toEqual(['phone:0490 75 40 81']);
    expect(types('+1-903-140-4508x769')).toEqual(['phone:+1-903-140-4508x769']);
    expect(types('Office: 07700 900 461')).toEqual(['phone:07700 900 461']);
    expect(types('Mobile: 0312 4455667')).toEqual(['phone:0312 4455667']);
  });

  it('needs a phone word for short pairs and bare digit runs', () => {
    expect(types('Phone: 555 0134')).toEqual(['phone:555 0134']);
    expect(types('room 555 0134')).toEqual([]);
    expect(types('Desk: 4155550134')).toEqual(['phone:4155550134']);
    expect(types('4155550134-Fax')).toEqual(['phone:4155550134']);
    expect(types('invoice 4155550134 paid')).toEqual([]);
  });

  it('does not flag dates, times, versions, amounts, addresses or postcodes as phones', () => {
    expect(types('released 2022-02-03, version 1.2.3, population 1,439,323,776')).toEqual([]);
    expect(types('When: 2021-05-06 14:11:22')).toEqual([]);
    expect(types('budget 12 000 000 and $ 4 250 000')).toEqual([]);
    expect(types('Meet me at 4521 3318 Larkspur Ave')).toEqual([]);
    expect(types('ZIP 90210-1234 and CEP 01310-100')).toEqual([]);
    expect(types('not an ssn 000-12-3456 or 666-12-3456')).toEqual([]);
  });

  it('does not flag UUIDs, git SHAs or order numbers', () => {
    expect(types('request 3f2b8c1e-9d4a-4b6f-8e2d-1a7c5b9e0f3d failed')).toEqual([]);
    expect(types('fixed in 7b3f1e9c2a4d6b8e0f1a3c5e7d9b2f4a6c8e0d1b yesterday')).toEqual([]);
    expect(types('order no. 20240115-0001 and order 13812345678 shipped')).toEqual([]);
  });

  it('finds bare SSNs only after an SSN keyword', () => {
    expect(types('SSN 078051120 on file')).toEqual(['ssn:078051120']);
    expect(types('ref 078051120 on file')).toEqual([]);
    expect(types('social security number: 900123456')).toEqual([]);
  });

  it('finds US driver licence numbers only after a licence keyword', () => {
    expect(types("my driver's license number is D1234567")).toEqual(['us_driver_license:D1234567']);
    expect(types('Driving licence: 123-456-789')).toEqual(['us_driver_license:123-456-789']);
    expect(types('DL# WDL0ALXD2K1B')).toEqual([]);
    expect(types('product D1234567 in stock')).toEqual([]);
    expect(types('license MIT, see LICENSE file')).toEqual([]);
  });
});

describe('Chinese mobile numbers', () => {
  it('finds 11-digit 1[3-9] numbers with +86/86 prefixes, spaces or dashes', () => {
    expect(types('手机号码：13812345678')).toEqual(['cn_mobile:13812345678']);
    expect(types('联系 +86 139 1234 5678 或')).toEqual(['cn_mobile:+86 139 1234 5678']);
    expect(types('call 8613912345678 now')).toEqual(['cn_mobile:8613912345678']);
    expect(types('tel 150-1234-5678')).toEqual(['cn_mobile:150-1234-5678']);
    expect(types('+86-18612345678')).toEqual(['cn_mobile:+86-18612345678']);
  });

  it('rejects other prefixes, wrong lengths and bare numbers without a phone word', () => {
    const cn = (text: string): string[] => types(text).filter((t) => t.startsWith('cn_mobile:'));
    // After a phone word these are still generic phone numbers, but not Chinese mobiles.
    expect(cn('手机 12812345678')).toEqual([]);
    expect(cn('手机 1381234567')).toEqual([]);
    expect(cn('tel 138123456789')).toEqual([]);
    expect(types('order 13812345678 shipped')).toEqual([]);
  });
});

describe('Chinese resident id (GB 11643)', () => {
  it('accepts a valid mod-11 check character, including X', () => {
    expect(cnResidentIdValid('11010519491231002X')).toBe(true);
    expect(cnResidentIdValid('440306198507151231')).toBe(true);
    expect(types('身份证号 11010519491231002X。')).toEqual(['cn_resident_id:11010519491231002X']);
    expect(types('id 11010519491231002x')).toEqual(['cn_resident_id:11010519491231002x']);
  });

  it('rejects a wrong check character, an impossible or future birth date and wrong lengths', () => {
    expect(cnResidentIdValid('110105194912310021')).toBe(false);
    expect(types('身份证号 110105194912310021')).toEqual([]);
    // 1999-02-29 does not exist; 2000-02-29 does.
    expect(cnResidentIdValid('310115199902290013')).toBe(false);
    expect(cnResidentIdValid('310115200002290013')).toBe(true);
    expect(cnResidentIdValid('440306209901010016', new Date('2030-01-01'))).toBe(false);
    expect(cnResidentIdValid('11010519491231002')).toBe(false);
    expect(types('ref 911010519491231002X')).toEqual([]);
  });
});

describe('IPv6', () => {
  it('finds full, compressed and IPv4-suffixed addresses', () => {
    expect(types('host 2001:0db8:0000:0000:0000:ff00:0042:8329 up')).toEqual(['ipv6:2001:0db8:0000:0000:0000:ff00:0042:8329']);
    expect(types('via 2001:db8:85a3::8a2e:370:7334.')).toEqual(['ipv6:2001:db8:85a3::8a2e:370:7334']);
    expect(types('link fe80::1ff:fe23:4567:890a%eth0')).toEqual(['ipv6:fe80::1ff:fe23:4567:890a']);
    expect(ipv6Valid('64:ff9b::192.0.2.33')).toBe(true);
  });

  it('rejects MAC addresses, times, C++ scopes, loopback, too many groups and bad hex', () => {
    expect(types('mac 00:1a:2b:3c:4d:5e, eui 00:1a:2b:ff:fe:3c:4d:5e')).toEqual([]);
    expect(types('at 10:20:30 and std::vector and a::b and ::1')).toEqual([]);
    expect(ipv6Valid('1:2:3:4:5:6:7:8:9')).toBe(false);
    expect(ipv6Valid('2001:db8::1::2')).toBe(false);
    expect(ipv6Valid('2001:db8::g1')).toBe(false);
    expect(types('uuid 3f2b8c1e-9d4a-4b6f-8e2d-1a7c5b9e0f3d')).toEqual([]);
  });
});
