import { describe, expect, it } from '@jest/globals';
import { KeelError } from '@keel/contracts';
import { EgressPolicy, canonicalHost, classifyAddress, matchAllow, parseAllowEntry } from './egress.policy';
import type { AddressClass, AllowEntry } from './egress.policy';

function thrown(fn: () => unknown): KeelError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KeelError) return err;
    throw err;
  }
  throw new Error('expected a KeelError');
}

describe('classifyAddress', () => {
  const cases: Array<[string, AddressClass]> = [
    // IPv4
    ['8.8.8.8', 'public'],
    ['93.184.215.14', 'public'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.15.255.255', 'public'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.0', 'public'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.0.1', 'link_local'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.128.0.0', 'public'],
    ['100.63.255.255', 'public'],
    ['100.100.100.200', 'metadata'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['192.0.2.10', 'reserved'],
    // IPv6
    ['2606:4700:4700::1111', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['febf::1', 'link_local'],
    ['fec0::1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['FD00:EC2:0:0:0:0:0:254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    // IPv4 inside IPv6
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::FFFF:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:0808:0808::1', 'public'],
    // not addresses
    ['localhost', 'invalid'],
    ['1.2.3', 'invalid'],
    ['', 'invalid'],
  ];
  it.each(cases)('%s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe('parseAllowEntry', () => {
  it.each<[string, Partial<AllowEntry> | undefined]>([
    ['api.example.com', { host: 'api.example.com', wildcard: false, port: undefined }],
    ['API.Example.COM', { host: 'api.example.com', wildcard: false }],
    ['api.example.com.', { host: 'api.example.com' }],
    ['127.0.0.1:4318', { host: '127.0.0.1', port: 4318, wildcard: false }],
    ['*.example.com', { host: 'example.com', wildcard: true, port: undefined }],
    ['*.example.com:8443', { host: 'example.com', wildcard: true, port: 8443 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    ['[::1]', { host: '::1', port: undefined }],
    ['::1', { host: '::1', port: undefined }],
    ['[::ffff:127.0.0.1]', { host: '::ffff:7f00:1' }],
    ['bücher.de', { host: 'xn--bcher-kva.de' }],
    ['host:0', undefined],
    ['host:70000', undefined],
    ['host:abc', undefined],
    ['', undefined],
    ['*.*.example.com', undefined],
    ['exa mple.com', undefined],
  ])('%s', (raw, expected) => {
    const parsed = parseAllowEntry(raw);
    if (expected === undefined) expect(parsed).toBeUndefined();
    else expect(parsed).toMatchObject(expected);
  });
});

describe('canonicalHost', () => {
  it('normalises what the URL parser normalises', () => {
    expect(canonicalHost('[::0001]')).toBe('::1');
    expect(canonicalHost('2130706433')).toBe('127.0.0.1');
    expect(canonicalHost('Example.com.')).toBe('example.com');
  });
});

describe('matchAllow', () => {
  const entries = ['api.example.com', '*.svc.example.net', 'db.internal:5432', '127.0.0.1:4318']
    .map((e) => parseAllowEntry(e))
    .filter((e): e is AllowEntry => e !== undefined);

  it('matches an exact host on any port', () => {
    expect(matchAllow(entries, 'api.example.com', 443)).toEqual({ allowed: true, exact: true });
    expect(matchAllow(entries, 'api.example.com', 8443)).toEqual({ allowed: true, exact: true });
  });
  it('matches host:port only on that port', () => {
    expect(matchAllow(entries, 'db.internal', 5432)).toEqual({ allowed: true, exact: true });
    expect(matchAllow(entries, 'db.internal', 5433).allowed).toBe(false);
    expect(matchAllow(entries, '127.0.0.1', 4318).exact).toBe(true);
    expect(matchAllow(entries, '127.0.0.1', 4319).allowed).toBe(false);
  });
  it('matches wildcards on subdomains only, never exactly', () => {
    expect(matchAllow(entries, 'a.svc.example.net', 443)).toEqual({ allowed: true, exact: false });
    expect(matchAllow(entries, 'a.b.svc.example.net', 443)).toEqual({ allowed: true, exact: false });
    expect(matchAllow(entries, 'svc.example.net', 443).allowed).toBe(false);
    expect(matchAllow(entries, 'evilsvc.example.net', 443).allowed).toBe(false);
  });
  it('does not match look-alike hosts', () => {
    expect(matchAllow(entries, 'api.example.com.evil.io', 443).allowed).toBe(false);
    expect(matchAllow(entries, 'xapi.example.com', 443).allowed).toBe(false);
  });
  it('never lets a wildcard match an IP literal', () => {
    const wild = [parseAllowEntry('*.0.1')].filter((e): e is AllowEntry => e !== undefined);
    expect(matchAllow(wild, '127.0.0.1', 80).allowed).toBe(false);
  });
});

describe('EgressPolicy.checkUrl', () => {
  it('denies everything when the allowlist is empty, naming the entry that would be needed', () => {
    const err = thrown(() => new EgressPolicy([]).checkUrl(new URL('https://api.example.com/v1')));
    expect(err.code).toBe('egress_denied');
    expect(err.message).toContain('no egress allowlist');
    expect(err.message).toContain('"api.example.com"');
  });
  it('suggests host:port for a non-default port', () => {
    const err = thrown(() => new EgressPolicy(['other.com']).checkUrl(new URL('http://api.example.com:8080/')));
    expect(err.code).toBe('egress_denied');
    expect(err.message).toContain('"api.example.com:8080"');
    expect(err.message).toContain('[other.com]');
  });
  it('mentions ignored invalid entries', () => {
    const err = thrown(() => new EgressPolicy(['bad host']).checkUrl(new URL('https://a.com/')));
    expect(err.message).toContain('ignored invalid entries: bad host');
  });
  it('refuses non-http schemes', () => {
    expect(thrown(() => new EgressPolicy(['a.com']).checkUrl(new URL('ftp://a.com/'))).code).toBe('egress_denied');
  });
  it('returns exact=true for an exact entry and exact=false for a wildcard', () => {
    const policy = new EgressPolicy(['api.example.com', '*.example.org']);
    expect(policy.checkUrl(new URL('https://api.example.com/x'))).toEqual({ host: 'api.example.com', port: 443, exact: true });
    expect(policy.checkUrl(new URL('http://www.example.org/'))).toEqual({ host: 'www.example.org', port: 80, exact: false });
  });
  it('lets an exact IP entry reach loopback', () => {
    expect(new EgressPolicy(['127.0.0.1:4318']).checkUrl(new URL('http://127.0.0.1:4318/v1/traces')).exact).toBe(true);
    expect(new EgressPolicy(['[::1]:4318']).checkUrl(new URL('http://[::1]:4318/')).exact).toBe(true);
  });
  it('treats an IPv4-mapped literal as the IPv4 address it is', () => {
    const err = thrown(() => new EgressPolicy(['127.0.0.1']).checkUrl(new URL('http://[::ffff:127.0.0.1]/')));
    expect(err.code).toBe('egress_denied'); // not the same host as the allow entry
    expect(new EgressPolicy(['[::ffff:127.0.0.1]']).checkUrl(new URL('http://[::ffff:7f00:1]/')).exact).toBe(true);
  });
  it('normalises numeric IPv4 forms before matching', () => {
    expect(new EgressPolicy(['127.0.0.1']).checkUrl(new URL('http://2130706433/')).exact).toBe(true);
    expect(thrown(() => new EgressPolicy(['api.example.com']).checkUrl(new URL('http://0x7f.1/'))).code).toBe('egress_denied');
  });
  it('refuses metadata host names reached through a wildcard, allows them when named exactly', () => {
    const err = thrown(() => new EgressPolicy(['*.google.internal']).checkUrl(new URL('http://metadata.google.internal/computeMetadata/v1/')));
    expect(err.code).toBe('egress_denied');
    expect(err.message).toContain('metadata');
    expect(new EgressPolicy(['metadata.google.internal']).checkUrl(new URL('http://metadata.google.internal/')).exact).toBe(true);
  });
});

describe('EgressPolicy.checkAddresses', () => {
  const policy = new EgressPolicy(['*.example.com', 'internal.example.com']);
  const wildcardDest = policy.checkUrl(new URL('https://api.example.com/'));
  const exactDest = policy.checkUrl(new URL('https://internal.example.com/'));

  it('passes public addresses', () => {
    expect(() => policy.checkAddresses(wildcardDest, 443, [{ address: '93.184.215.14', family: 4 }])).not.toThrow();
  });
  it.each([
    ['127.0.0.1', 4], ['::1', 6], ['::ffff:127.0.0.1', 6], ['10.1.2.3', 4], ['169.254.169.254', 4],
    ['fd00:ec2::254', 6], ['0.0.0.0', 4], ['100.64.0.1', 4], ['fe80::1', 6],
  ])('refuses %s reached through a wildcard', (address, family) => {
    const err = thrown(() => policy.checkAddresses(wildcardDest, 443, [{ address, family }]));
    expect(err.code).toBe('egress_denied');
    expect(err.message).toContain(`resolves to ${address}`);
    expect(err.message).toContain('"api.example.com"');
  });
  it('refuses when any one of several addresses is private', () => {
    const err = thrown(() => policy.checkAddresses(wildcardDest, 443, [
      { address: '93.184.215.14', family: 4 }, { address: '192.168.0.10', family: 4 },
    ]));
    expect(err.code).toBe('egress_denied');
  });
  it('lets an exact entry resolve to a private address', () => {
    expect(() => policy.checkAddresses(exactDest, 443, [{ address: '10.0.0.7', family: 4 }])).not.toThrow();
  });
  it('fails clearly when nothing resolved', () => {
    expect(thrown(() => policy.checkAddresses(wildcardDest, 443, [])).code).toBe('tool_error');
  });
});
