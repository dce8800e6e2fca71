import { isIP } from 'node:net';
import { KeelError } from '@keel/contracts';

/**
 * Egress rules for tools that open connections (design.md, "Built-in tools"):
 * a destination must match the agent's allowlist, and addresses that are not
 * publicly routable are refused unless an allow entry names the host exactly.
 */

export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'metadata'
  | 'multicast'
  | 'reserved'
  | 'invalid';

const CLASS_LABEL: Record<Exclude<AddressClass, 'public'>, string> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  private: 'a private-network address',
  link_local: 'a link-local address',
  cgnat: 'a carrier-grade NAT (100.64.0.0/10) address',
  metadata: 'a cloud metadata endpoint',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  invalid: 'an unparseable address',
};

/** Host names that reach instance metadata services without looking like an IP. */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog']);

type V4Rule = readonly [base: number, prefix: number, cls: AddressClass];

// Most specific first: metadata addresses sit inside link-local and CGNAT ranges.
const V4_RULES: readonly V4Rule[] = [
  [v4('169.254.169.254'), 32, 'metadata'], // AWS, GCP, Azure, OCI…
  [v4('169.254.170.2'), 32, 'metadata'], // ECS task metadata / credentials
  [v4('100.100.100.200'), 32, 'metadata'], // Alibaba Cloud
  [v4('0.0.0.0'), 8, 'unspecified'],
  [v4('10.0.0.0'), 8, 'private'],
  [v4('100.64.0.0'), 10, 'cgnat'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('169.254.0.0'), 16, 'link_local'],
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.0.0.0'), 24, 'reserved'], // IETF protocol assignments
  [v4('192.0.2.0'), 24, 'reserved'], // documentation
  [v4('192.168.0.0'), 16, 'private'],
  [v4('198.18.0.0'), 15, 'reserved'], // benchmarking
  [v4('198.51.100.0'), 24, 'reserved'],
  [v4('203.0.113.0'), 24, 'reserved'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved'], // includes 255.255.255.255
];

function v4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return NaN;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return NaN;
    const octet = Number(p);
    if (octet > 255) return NaN;
    n = n * 256 + octet;
  }
  return n;
}

function classifyV4(n: number): AddressClass {
  for (const [base, prefix, cls] of V4_RULES) {
    const size = 2 ** (32 - prefix);
    if (n >= base && n < base + size) return cls;
  }
  return 'public';
}

/** 16 bytes of an IPv6 address (zone id stripped, embedded dotted quad allowed). */
function parseV6(text: string): number[] | undefined {
  let s = text.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const words: number[] = [];
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
  let tailWords: number[] = [];
  if (dotted) {
    const n = v4(dotted[1]);
    if (Number.isNaN(n)) return undefined;
    tailWords = [Math.floor(n / 65536), n % 65536];
    s = s.slice(0, s.length - dotted[1].length);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const toWords = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const w of part.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(w)) return undefined;
      out.push(parseInt(w, 16));
    }
    return out;
  };
  const head = toWords(halves[0]);
  const tail = halves.length === 2 ? toWords(halves[1]) : [];
  if (!head || !tail) return undefined;
  const given = head.length + tail.length + tailWords.length;
  if (halves.length === 2) {
    if (given > 7) return undefined;
    words.push(...head, ...new Array<number>(8 - given).fill(0), ...tail, ...tailWords);
  } else {
    if (given !== 8) return undefined;
    words.push(...head, ...tailWords);
  }
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function v4FromBytes(b: readonly number[], at: number): number {
  return ((b[at] * 256 + b[at + 1]) * 256 + b[at + 2]) * 256 + b[at + 3];
}

function classifyV6(b: readonly number[]): AddressClass {
  const zeroUpTo = (n: number): boolean => b.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(16)) return 'unspecified';
  if (zeroUpTo(15) && b[15] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible form (::a.b.c.d)
  // reach the embedded IPv4 address: judge that address.
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) return classifyV4(v4FromBytes(b, 12));
  if (zeroUpTo(12)) return classifyV4(v4FromBytes(b, 12));
  // NAT64 well-known prefix 64:ff9b::/96 translates to the embedded IPv4 address.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => x === 0)) {
    return classifyV4(v4FromBytes(b, 12));
  }
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b[4] === 0x00 && b[5] === 0x01) return 'private'; // local-use NAT64
  // 6to4 (2002::/16) tunnels to the IPv4 address in bytes 2..5.
  if (b[0] === 0x20 && b[1] === 0x02) return classifyV4(v4FromBytes(b, 2));
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x00 && b[3] === 0x00) return 'reserved'; // Teredo
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'reserved'; // documentation
  if (b[0] === 0x01 && b.slice(1, 8).every((x) => x === 0)) return 'reserved'; // discard 100::/64
  const isEc2Metadata = b[0] === 0xfd && b[1] === 0x00 && b[2] === 0x0e && b[3] === 0xc2
    && b.slice(4, 14).every((x) => x === 0) && b[14] === 0x02 && b[15] === 0x54;
  if (isEc2Metadata) return 'metadata'; // fd00:ec2::254
  if ((b[0] & 0xfe) === 0xfc) return 'private'; // fc00::/7 unique local
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'link_local'; // fe80::/10
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return 'private'; // fec0::/10 site-local (deprecated)
  if (b[0] === 0xff) return 'multicast';
  return 'public';
}

/** Classifies an IPv4 or IPv6 address (brackets and zone ids tolerated). */
export function classifyAddress(address: string): AddressClass {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(text.split('%')[0]);
  if (family === 4) return classifyV4(v4(text));
  if (family === 6) {
    const bytes = parseV6(text);
    return bytes ? classifyV6(bytes) : 'invalid';
  }
  return 'invalid';
}

export function describeClass(cls: AddressClass): string {
  return cls === 'public' ? 'a public address' : CLASS_LABEL[cls];
}

export interface AllowEntry {
  raw: string;
  /** Canonical host (lowercase, punycode, IPv6 without brackets); for wildcards the suffix after "*.". */
  host: string;
  wildcard: boolean;
  /** Undefined: any port. */
  port?: number;
}

/** Canonical form of a host as the WHATWG URL parser would write it (no brackets, no trailing dot). */
export function canonicalHost(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const forUrl = isIP(bare) === 6 ? `[${bare}]` : bare;
  try {
    const hostname = new URL(`http://${forUrl}/`).hostname;
    const unbracketed = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    return unbracketed.replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

/** Parses "host", "host:port", "[v6]", "[v6]:port", a bare IPv6 address, or "*.suffix[:port]". */
export function parseAllowEntry(raw: string): AllowEntry | undefined {
  const entry = raw.trim();
  if (!entry) return undefined;
  let hostPart = entry;
  let portPart: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    hostPart = bracketed[1];
    portPart = bracketed[2];
  } else if ((entry.match(/:/g) ?? []).length === 1) {
    const i = entry.lastIndexOf(':');
    hostPart = entry.slice(0, i);
    portPart = entry.slice(i + 1);
  }
  let port: number | undefined;
  if (portPart !== undefined) {
    if (!/^\d{1,5}$/.test(portPart)) return undefined;
    port = Number(portPart);
    if (port < 1 || port > 65535) return undefined;
  }
  const wildcard = hostPart.startsWith('*.');
  const host = canonicalHost(wildcard ? hostPart.slice(2) : hostPart);
  if (!host || host.includes('*')) return undefined;
  return { raw, host, wildcard, port };
}

export interface AllowMatch {
  allowed: boolean;
  /** True when a non-wildcard entry names the host: only then may it resolve to a non-public address. */
  exact: boolean;
}

export function matchAllow(entries: readonly AllowEntry[], host: string, port: number): AllowMatch {
  let allowed = false;
  for (const e of entries) {
    if (e.port !== undefined && e.port !== port) continue;
    if (!e.wildcard && e.host === host) return { allowed: true, exact: true };
    // Wildcards name DNS suffixes only, never IP literals.
    if (e.wildcard && !isIP(host) && host.endsWith(`.${e.host}`)) allowed = true;
  }
  return { allowed, exact: false };
}

export interface Destination {
  /** Canonical host from the URL (no brackets). */
  host: string;
  port: number;
  /** An exact allow entry names it: non-public addresses are permitted. */
  exact: boolean;
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

function denied(message: string, details?: Record<string, unknown>): KeelError {
  return new KeelError('egress_denied', message, { details });
}

function hostPort(host: string, port: number, defaultPort: number): string {
  const h = isIP(host) === 6 ? `[${host}]` : host;
  return port === defaultPort ? h : `${h}:${port}`;
}

/** The allowlist of one tool call, applied to each URL and each resolved address. */
export class EgressPolicy {
  private readonly entries: AllowEntry[];
  private readonly invalid: string[];

  constructor(private readonly allow: readonly string[]) {
    this.entries = [];
    this.invalid = [];
    for (const raw of allow) {
      const parsed = parseAllowEntry(raw);
      if (parsed) this.entries.push(parsed);
      else this.invalid.push(raw);
    }
  }

  /** Checks scheme and allowlist for a URL; throws egress_denied with the entry that would be needed. */
  checkUrl(url: URL): Destination {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw denied(`egress denied: only http and https URLs are allowed, not "${url.protocol}"`);
    }
    const defaultPort = url.protocol === 'https:' ? 443 : 80;
    const port = url.port ? Number(url.port) : defaultPort;
    const host = canonicalHost(url.hostname);
    if (!host) throw denied(`egress denied: cannot parse the host of ${url.origin}`);
    const needed = hostPort(host, port, defaultPort);
    const details = { host, port };
    if (this.entries.length === 0) {
      const why = this.invalid.length ? ` (ignored invalid entries: ${this.invalid.join(', ')})` : '';
      throw denied(
        `egress denied: this agent has no egress allowlist for this tool${why}, so ${needed} cannot be reached; ` +
          `an operator can add "${needed}" to the tool's "allow" list in the agent file`,
        details,
      );
    }
    const match = matchAllow(this.entries, host, port);
    if (!match.allowed) {
      throw denied(
        `egress denied: ${needed} is not in this agent's allowlist [${this.allow.join(', ')}]; ` +
          `an operator can add "${needed}" to the tool's "allow" list in the agent file`,
        details,
      );
    }
    if (!match.exact) {
      // Literal IPs and well-known metadata names are judged before any DNS.
      const literal = isIP(host) ? classifyAddress(host) : METADATA_HOSTS.has(host) ? 'metadata' : 'public';
      if (literal !== 'public') throw this.nonPublic(host, port, defaultPort, host, literal);
    }
    return { host, port, exact: match.exact };
  }

  /**
   * Checks every address a host resolved to. The caller must connect only to
   * these addresses (never resolve again), which is what defeats DNS rebinding.
   */
  checkAddresses(dest: Destination, defaultPort: number, addresses: readonly ResolvedAddress[]): void {
    if (addresses.length === 0) {
      throw new KeelError('tool_error', `could not resolve ${dest.host}: no addresses`);
    }
    if (dest.exact) return;
    for (const a of addresses) {
      const cls = classifyAddress(a.address);
      if (cls !== 'public') throw this.nonPublic(dest.host, dest.port, defaultPort, a.address, cls);
    }
  }

  private nonPublic(host: string, port: number, defaultPort: number, address: string, cls: AddressClass): KeelError {
    const target = host === address ? host : `${host} (resolves to ${address})`;
    const exactHost = hostPort(host, port, defaultPort);
    return denied(
      `egress denied: ${target} is ${describeClass(cls)}; private, loopback, link-local and metadata ` +
        `destinations are refused unless an allow entry names the host exactly (e.g. "${exactHost}"), ` +
        `and "*." wildcard entries never unlock them`,
      { host, port, address, addressClass: cls },
    );
  }
}
