/**
 * Secret detection. Three credential layers and one identifier layer, all on the `clean` view; a
 * span covers the value only, so "Authorization: Bearer" or "password=" stays readable after redaction.
 *
 * 1. Provider formats: tokens whose shape is fixed by the issuer (prefix, length, alphabet,
 *    separators), e.g. GitHub `ghp_`, Stripe `sk_live_`, Slack `xoxb-`, AWS `AKIA`, PEM blocks,
 *    JWTs, password hashes, webhook URLs with their secret path.
 * 2. Credential slots: places where whatever stands there is a credential — the password of a
 *    URL (`postgres://u:p@h`), `Password=` in an ODBC/ADO.NET/JDBC connection string,
 *    `-p`/`--password` on a command line, `NetworkCredential(user, pass)`, netrc, `curl -u u:p`,
 *    a Gradle `credentials { password '…' }` block, PHPMailer's `$mail->Password = '…'`, an XML
 *    `<password>…</password>` element (Maven settings.xml, datasources), PowerShell's
 *    `ConvertTo-SecureString '…' -AsPlainText`. Only template syntax (`${X}`, `<pass>`, `%PASS%`,
 *    `***`, `$var`) is skipped there, so a weak literal such as `password 'admin'` is reported.
 * 3. Named values: `NAME = value` / `"NAME": "value"` / `NAME: value` / `env('NAME', 'value')`
 *    where NAME mentions a password, secret, token or key. Password and secret names take any
 *    literal that is not a placeholder or an expression; token and key names need a value that
 *    looks random (`tokenLike`). Finally a pass flags long random tokens (`randomToken`: >= 32
 *    chars, mixed case and digits, high entropy) with a credential word before them on their line
 *    or the line above (`credentialContext`), which skips UUIDs, hex digests, base64 that decodes
 *    to text or an image, SRI hashes and URL paths.
 * 4. Identifiers (`kind: 'identifier'`): sensitive names that grant nothing by themselves — ARNs,
 *    AWS account ids, S3/GCS bucket names, Shopify store domains, OAuth client ids, usernames in env
 *    files, age recipients. They run last and never take a span a credential holds; screen()
 *    reports them and redacts them only when the request asks (`redactIdentifiers`). Bucket names
 *    under a documentation domain (RFC 2606/6761: example.com, *.example, *.test, ...) are skipped.
 *
 * Every layer skips AWS's published documentation keys (`…EXAMPLE`, `…EXAMPLEKEY`).
 */

import { buildGateIndex } from './gate.scan';

/**
 * `credential`: something that grants access (a key, token, password, private key) and is redacted.
 * `identifier`: a sensitive name that grants nothing by itself (an ARN, an AWS account id, a bucket
 * or store hostname, an OAuth client id, a username, a public key); reported, redacted only on request.
 */
export type SecretKind = 'credential' | 'identifier';

export interface SecretMatch {
  kind: SecretKind;
  type: string;
  start: number;
  end: number;
}

interface SecretRule {
  readonly type: string;
  readonly pattern: RegExp;
  /** Index of the capture group holding the secret; 0 = whole match; -1 = first group that matched. */
  readonly group: number;
  /** The rule only runs when the lower-cased text contains one of these (cheap pre-check); [] = always. */
  readonly gate: readonly string[];
  readonly check?: (value: string, text: string, start: number) => boolean;
}

const END = '(?![A-Za-z0-9_-])';
const START = '(?<![A-Za-z0-9_-])';

const PLACEHOLDER = /^(?:x+|\*+|\.+|#+|-+|_+|\?+|0+|changeme|change_me|changeit|password|passwd|secret|token|redacted|example|sample|dummy|test|null|none|nil|undefined|true|false|yes|no|on|off|str|string|int|bool|boolean|any|number|required|optional|empty|todo|tbd|fixme|replace_?me|placeholder|your[_-]?\w*|my[_-]?\w*|some[_-]?\w*|enter[_-]?\w*|insert[_-]?\w*|<[^>]*>|&lt;.*&gt;|\[[^\]]*\]|\{[^}]*\}|\$\{?[A-Za-z_][\w.]*\}?|%\(?\w*\)?s?|%[A-Za-z_]\w*%|\{\{.*\}\}|<%.*%>|#\{.*\}|\$\(.*\)?|(?:os\.)?(?:env|environ|getenv|process\.env)\b.*|\w+\(.*)$/i;
/** Template syntax only: what a credential slot may hold without being a credential. */
const TEMPLATE = /^(?:x{3,}|X{3,}|\*+|\.+|#+|-+|_+|\?+|<[^>]*>?|&lt;.*|\[[^\]]*\]|\{[^}]*\}|\$\{?[A-Za-z_][\w.]*\}?|\$\(.*|%\(?\w*\)?s?|%[A-Za-z_]\w*%|\{\{.*|<%.*|#\{.*|@[A-Za-z_]\w*|:[A-Za-z_]\w*|\?)$/;
const IDENTIFIER_ONLY = /^[A-Za-z_][A-Za-z_.]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]+$/i;

const ASCII_COUNTS = new Int32Array(128);

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  if (s.length === 0) return 0;
  if (!/[^\t\n\r\x20-\x7e]/.test(s)) {
    ASCII_COUNTS.fill(0);
    for (let i = 0; i < s.length; i++) ASCII_COUNTS[s.charCodeAt(i)]++;
    let h = 0;
    for (let c = 0; c < 128; c++) {
      const n = ASCII_COUNTS[c];
      if (n > 0) h -= (n / s.length) * Math.log2(n / s.length);
    }
    return h;
  }
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

function notPlaceholder(v: string): boolean {
  return !PLACEHOLDER.test(v) && !/^(.)\1+$/.test(v);
}

/** A value in an unambiguous credential slot: anything but template syntax or one repeated character. */
function slotValue(v: string): boolean {
  return v.length >= 3 && !TEMPLATE.test(v) && !/^(.)\1+$/.test(v);
}

/** A slot value in a double-quoted string of a language that interpolates `$` there (Groovy, Kotlin,
 * PHP, PowerShell): `"$pass"`, `"${cfg.pass}"`, `"pre$suffix"` are expressions, not literals. */
function interpolatedSlot(v: string, text: string, start: number): boolean {
  return text[start - 1] === '"' && v.includes('$');
}

// AWS documentation writes every example key with an EXAMPLE suffix (AKIAIOSFODNN7EXAMPLE,
// wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY); gitleaks and others allowlist the same shape. A real key
// id ends in "EXAMPLE" with probability 32^-7, so this costs no real key.
const AWS_DOC_EXAMPLE = /^(?:(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{9}EXAMPLE|[A-Za-z0-9/+]{30}EXAMPLEKEY)$/;

/** A value published in vendor documentation as an example: it grants nothing anywhere. */
function publishedExample(v: string): boolean {
  return v.length >= 20 && AWS_DOC_EXAMPLE.test(v);
}

// Documentation names (RFC 2606 and RFC 6761): example.com/.org/.net and the reserved TLDs .example,
// .test, .invalid, .localhost. No one can own them (GCS even requires domain verification for a
// dotted bucket name), so a bucket named under one is a documentation example.
const DOC_DOMAIN = /(?:^|\.)example\.(?:com|org|net)$|\.(?:example|test|invalid|localhost)$/i;

// The user of the password just before it is `anonymous` (ftp://anonymous:x@, `login anonymous
// password x`, `user = "anonymous"; password = "x"`).
const ANONYMOUS_BEFORE = /(?:\banonymous:|\b(?:user(?:_?name)?|login|uid)\b["'\]]?\s*(?:[:=]|=>|->)?\s*["']?anonymous\b[^\n]{0,40}(?:\n[^\n]{0,60})?)$/i;

/** Anonymous FTP and similar logins take any password (by convention an e-mail address): not a credential. */
function anonymousLogin(text: string, start: number): boolean {
  const before = text.slice(Math.max(0, start - 160), start);
  return before.toLowerCase().includes('anonymous') && ANONYMOUS_BEFORE.test(before);
}

// Longest run of consecutive characters in (ascending or descending) order, e.g. "abcdef", "98765".
function longestRun(s: string): number {
  let best = s.length > 0 ? 1 : 0;
  let up = 1;
  let down = 1;
  for (let i = 1; i < s.length; i++) {
    const d = s.charCodeAt(i) - s.charCodeAt(i - 1);
    up = d === 1 ? up + 1 : 1;
    down = d === -1 ? down + 1 : 1;
    best = Math.max(best, up, down);
  }
  return best;
}

/** Made-up values: alphabet or digit sequences once the other characters are dropped
 * ("a1B2c3D4e5" -> "abcde" and "12345"), or one character repeated six times. */
function looksMadeUp(v: string): boolean {
  const letters = v.replace(/[^A-Za-z]/g, '').toLowerCase();
  const digits = v.replace(/\D/g, '');
  return longestRun(letters) >= 5 || longestRun(digits) >= 6 || /(.)\1{5}/.test(v);
}

/** Share of `v` made of letter words ("Connection", "String", "HTTP"): high for identifiers, low for random tokens. */
function wordShare(v: string): number {
  let words = 0;
  for (const w of v.matchAll(/[A-Z]?[a-z]{3,}|[A-Z]{4,}/g)) words += w[0].length;
  return words / v.length;
}

/**
 * A value that looks machine-generated: >= 16 chars, a digit and another character class,
 * enough entropy for its alphabet and length, not one of the placeholders.
 * UUIDs qualify only when `allowUuid` (a UUID named "token" is a credential, a bare one is an id).
 */
export function tokenLike(v: string, allowUuid = false): boolean {
  if (v.length < 16 || !notPlaceholder(v)) return false;
  if (UUID.test(v)) return allowUuid && !/^0{8}-/.test(v);
  const classes = (/[a-z]/.test(v) ? 1 : 0) + (/[A-Z]/.test(v) ? 1 : 0) + (/\d/.test(v) ? 1 : 0);
  if (classes < 2 || !/\d/.test(v)) return false;
  if (looksMadeUp(v) || (classes === 3 && wordShare(v) >= 0.7)) return false;
  // Hex digests and base32 need less entropy per character than mixed alphabets to be random.
  const min = HEX.test(v) ? 3.0 : /^[a-z0-9]+$/.test(v) || /^[A-Z0-9]+$/.test(v) ? 3.2 : 3.5;
  return entropy(v) >= min;
}

const DATA_URI_BEFORE = /data:[\w.+-]+\/[\w.+-]+(?:;[\w=.-]+)*;base64,$/;
// Digests in lock files, SRI attributes, go.sum and prose ("sha256-...", "h1:...", "checksum: ...").
const DIGEST_BEFORE = /(?:sha(?:1|224|256|384|512)[-:=]|md5[-:=]|h1:|integrity=["']?|(?:digest|checksum|hash|fingerprint|etag|nonce|salt|signature|public[_ -]?key|pub[_-]?key)(?:["']?\s*(?:is|was|=|:|=>)\s*["']?|\W{1,6}))$/i;
// An id is not a secret: "user_id": "...", requestId=..., ID: ...
const ID_BEFORE = /(?:[a-z]Id|[_.-]id|\bid|ID)["']?\s*(?:=|:|=>)\s*["']?$/;
// Base64 of PNG, JPEG, GIF, WebP, PDF, gzip and zip data.
const BINARY_BASE64 = /^(?:iVBORw0KGgo|\/9j\/|R0lGOD|UklGR|JVBERi0|H4sI|UEsDB)/;
const BASE64_LINE = /^[A-Za-z0-9+/]{40,}={0,2}$/;

/** Base64 that decodes to mostly printable text is an encoded payload (decode.ts screens it), not a key. */
function decodesToText(v: string): boolean {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(v) || v.length % 4 === 1) return false;
  const bytes = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length < 12) return false;
  let printable = 0;
  for (const b of bytes) if ((b >= 32 && b < 127) || b === 9 || b === 10 || b === 13) printable++;
  // Random bytes are ~37% printable; text, even with a few corrupted characters, is far above 80%.
  return printable / bytes.length > 0.8;
}

/** One line of a wrapped base64 block (certificate, MIME attachment): its neighbour lines are base64 too. */
function inBase64Block(text: string, start: number, end: number): boolean {
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  let lineEnd = text.indexOf('\n', end);
  if (lineEnd < 0) lineEnd = text.length;
  if (text.slice(lineStart, lineEnd).trim() !== text.slice(start, end)) return false;
  const prevStart = text.lastIndexOf('\n', lineStart - 2) + 1;
  const prev = lineStart > 0 ? text.slice(prevStart, lineStart - 1).trim() : '';
  let nextEnd = text.indexOf('\n', lineEnd + 1);
  if (nextEnd < 0) nextEnd = text.length;
  const next = lineEnd < text.length ? text.slice(lineEnd + 1, nextEnd).trim() : '';
  return BASE64_LINE.test(prev) || BASE64_LINE.test(next) || /^-----BEGIN /.test(prev);
}

/**
 * Context-free random token: 32..256 chars with upper and lower case letters and at least three
 * digits, high entropy (close to log2 of the length), no alphabet/digit sequences. Skips UUIDs and
 * hex digests, base64 that decodes to text or starts like an image/archive, digests after
 * "sha256-"/"h1:"/"checksum:", data: URIs, URL path segments and lines of a wrapped base64 block.
 */
export function randomToken(v: string, text: string, start: number): boolean {
  if (v.length < 32 || v.length > 256) return false;
  if (!/[a-z]/.test(v) || !/[A-Z]/.test(v) || HEX.test(v.replace(/-/g, ''))) return false;
  const digits = v.replace(/\D/g, '').length;
  if (digits < 3 || digits / v.length > 0.6) return false;
  const before = text.slice(Math.max(0, start - 48), start);
  if (/[/\\]$/.test(before) || DATA_URI_BEFORE.test(before) || DIGEST_BEFORE.test(before) || ID_BEFORE.test(before)) return false;
  if (BINARY_BASE64.test(v) || /(.)\1{3}/.test(v) || looksMadeUp(v)) return false;
  // Identifiers glued from words ("getUserAccount2ForProvider3") are mostly letter words.
  if (wordShare(v) >= 0.7) return false;
  if (entropy(v) < Math.min(4.3, Math.log2(v.length) - 0.8)) return false;
  return !decodesToText(v);
}

// ---------------------------------------------------------------------------------------------
// 1. Provider formats and 2. credential slots
// ---------------------------------------------------------------------------------------------

const re = (body: string, flags = 'g'): RegExp => new RegExp(body, flags);

const RULES: readonly SecretRule[] = [
  // Keys and key material
  { type: 'private_key', group: 0, gate: ['private key'], pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g },
  // A PEM block base64-encoded once more ("-----BEGIN" = LS0tLS1CRUdJTi...).
  { type: 'private_key', group: 0, gate: ['ls0tls1crudjti'], pattern: /LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,}={0,2}/g, check: (v) => /PRIVATE KEY/.test(Buffer.from(v.slice(0, 120), 'base64').toString('latin1')) },
  { type: 'private_key', group: 0, gate: ['putty-user-key-file'], pattern: /PuTTY-User-Key-File-\d: [\s\S]*?Private-(?:Lines|MAC): [^\n]*(?:\n[A-Za-z0-9+/=]+)*/g },
  { type: 'age_secret_key', group: 0, gate: ['age-secret-key'], pattern: /AGE-SECRET-KEY-1[0-9A-Z]{58}/g },
  { type: 'wireguard_key', group: 1, gate: ['privatekey', 'presharedkey'], pattern: /\b(?:PrivateKey|PresharedKey)\s*=\s*([A-Za-z0-9+/]{42,43}=)/g },
  { type: 'password_hash', group: 0, gate: ['$2', '$1$', '$5$', '$6$', '$8$', '$9$', '$krb5', '$y$'], pattern: /\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}|\$1\$[./A-Za-z0-9]{0,8}\$[./A-Za-z0-9]{22}|\$5\$(?:rounds=\d+\$)?[./A-Za-z0-9]{0,16}\$[./A-Za-z0-9]{43}|\$6\$(?:rounds=\d+\$)?[./A-Za-z0-9]{0,16}\$[./A-Za-z0-9]{86}|\$[89]\$[./A-Za-z0-9]{14}\$[./A-Za-z0-9]{43}|\$y\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{0,86}\$[./A-Za-z0-9]{43}|\$krb5asrep\$\d+\$(?:[^\s$:]{1,256}:)?[0-9a-f]{32}\$[0-9a-f]{64,}|\$krb5tgs\$\d+\$\S{0,300}?\$[0-9a-f]{32}\$[0-9a-f]{64,}/g },

  // AI providers
  { type: 'anthropic_api_key', group: 0, gate: ['sk-ant-'], pattern: re(`sk-ant-(?:api|admin|oat|sid)?\\d{0,2}-?[A-Za-z0-9_-]{20,}${END}`) },
  { type: 'openai_api_key', group: 0, gate: ['sk-'], pattern: re(`${START}sk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}${END}`), check: (v) => /\d/.test(v) },
  { type: 'huggingface_token', group: 0, gate: ['hf_'], pattern: re(`${START}hf_[A-Za-z0-9]{34,}${END}`) },
  { type: 'groq_api_key', group: 0, gate: ['gsk_'], pattern: re(`${START}gsk_[A-Za-z0-9]{48,}${END}`) },
  { type: 'tavily_api_key', group: 0, gate: ['tvly-'], pattern: re(`${START}tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}${END}`) },
  { type: 'jina_api_key', group: 0, gate: ['jina_'], pattern: re(`${START}jina_[a-f0-9]{32}[A-Za-z0-9_-]{20,40}${END}`) },
  { type: 'firecrawl_api_key', group: 0, gate: ['fc-'], pattern: re(`${START}fc-[a-f0-9]{32}${END}`) },

  // Cloud providers
  { type: 'aws_access_key_id', group: 0, gate: ['akia', 'asia', 'agpa', 'aida', 'aroa', 'aipa', 'anpa', 'anva', 'abia', 'acca', 'a3t'], pattern: /(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])/g },
  // Secret access keys have no prefix: 40 base64 characters, taken only under their name (env, INI,
  // JSON `SecretAccessKey`, `aws configure` prompts "AWS Secret Access Key [****]:") or right after an access key id.
  { type: 'aws_secret_access_key', group: 1, gate: ['secret'], pattern: /(?<![A-Za-z0-9])(?:aws[ _.-]?secret(?:[ _.-]?access)?(?:[ _.-]?key)?|secret[ _.-]?access[ _.-]?key)(?:[ \t]*\[[^\]\n]{0,40}\])?["'`]?[ \t]*(?::|=>|:=|=)\s*["'`]?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi, check: awsSecretKey },
  { type: 'aws_secret_access_key', group: 1, gate: ['akia', 'asia', 'a3t'], pattern: /(?<![A-Z0-9])(?:AKIA|ASIA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])[^\n]{0,60}?(?:\n[^\n]{0,60}?)?(?<![A-Za-z0-9/+=])([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/g, check: awsSecretKey },
  { type: 'aws_appsync_key', group: 0, gate: ['da2-'], pattern: re(`${START}da2-[a-z0-9]{26}${END}`) },
  { type: 'amazon_mws_token', group: 0, gate: ['amzn.mws.'], pattern: /amzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g },
  { type: 'google_api_key', group: 0, gate: ['aiza'], pattern: re(`AIza[0-9A-Za-z_-]{35}${END}`) },
  { type: 'google_oauth_secret', group: 0, gate: ['gocspx'], pattern: re(`GOCSPX-[A-Za-z0-9_-]{28}${END}`) },
  { type: 'google_oauth_token', group: 0, gate: ['ya29.', '1//0'], pattern: re(`${START}(?:ya29\\.[0-9A-Za-z_-]{30,}|1//0[0-9A-Za-z_-]{40,})${END}`) },
  { type: 'azure_storage_key', group: 1, gate: ['accountkey', 'sharedaccesskey'], pattern: /(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{40,}={0,2})/g },
  { type: 'azure_app_config_secret', group: 1, gate: ['azconfig'], pattern: /\.azconfig\.io;Id=[^;\s]+;Secret=([A-Za-z0-9+/]{20,}={0,2})/g },
  { type: 'azure_devops_pat', group: 0, gate: ['azdo'], pattern: re(`${START}[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4}${END}`) },
  { type: 'digitalocean_token', group: 0, gate: ['_v1_'], pattern: /do[opr]_v1_[a-f0-9]{64}/g },
  { type: 'heroku_api_key', group: 0, gate: ['hrku-'], pattern: re(`${START}HRKU-[A-Za-z0-9_-]{60}${END}`) },
  { type: 'databricks_token', group: 0, gate: ['dapi'], pattern: re(`${START}dapi[a-f0-9]{32}(?:-\\d)?${END}`) },
  { type: 'salesforce_token', group: 0, gate: ['00d'], pattern: /(?<![A-Za-z0-9])00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{80,}/g },
  { type: 'okta_api_token', group: 1, gate: ['ssws'], pattern: /\bSSWS\s+([A-Za-z0-9_-]{40,44})(?![A-Za-z0-9_-])/g },
  // Okta API tokens: "00" + 40 base64url characters, under an Okta name (the `SSWS` header is above).
  // Found by name rather than by a fixed format, so like other named values it must look random:
  // enough entropy and no alphabet or digit sequence (`…ABCDEFGHIJ…`, `…123456…`) typed in by hand.
  { type: 'okta_api_token', group: 1, gate: ['okta'], pattern: /okta[A-Za-z0-9_.-]{0,40}?["'`]?[ \t]*(?::|=>|:=|=)\s*["'`]?(00[A-Za-z0-9_-]{40})(?![A-Za-z0-9_-])/gi, check: (v) => entropy(v.slice(2)) >= 3.5 && !looksMadeUp(v.slice(2)) },
  { type: 'dynatrace_token', group: 0, gate: ['dt0'], pattern: /dt0[a-z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}/g },
  { type: 'doppler_token', group: 0, gate: ['dp.'], pattern: re(`${START}dp\\.(?:pt|ct|sa|scim|audit|st(?:\\.[a-z0-9_-]{2,35})?)\\.[A-Za-z0-9]{40,44}${END}`) },
  { type: 'vault_token', group: 0, gate: ['hvs.', 'hvb.', 'hvr.', 's.caes', 'b.aaaaaq'], pattern: re(`${START}(?:hv[sbr]\\.[A-Za-z0-9_-]{90,}|s\\.CAES[A-Za-z0-9_-]{50,}|b\\.AAAAAQ[A-Za-z0-9_-]{100,})${END}`) },
  { type: 'vault_unseal_key', group: 1, gate: ['unseal'], pattern: /(?:Unseal Key(?: \d+)?:|operator unseal)\s+([A-Za-z0-9+/]{43,44}={0,2})(?![A-Za-z0-9+/=])/gi },
  { type: 'kubernetes_bootstrap_token', group: 1, gate: ['bootstrap'], pattern: /bootstrap[_-]?token["']?\s*[:=\s]\s*["']?([a-z0-9]{6}\.[a-z0-9]{16})(?![a-z0-9])/gi },

  // Code hosting, CI, package registries
  { type: 'github_token', group: 0, gate: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'], pattern: re(`${START}(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})${END}`) },
  { type: 'gitlab_token', group: 0, gate: ['glpat-', 'glptt-', 'gldt-', 'glrt-', 'glcbt-', 'gloas-', 'glft-', 'glimt-', 'glsoat-', 'glagent-', 'gr1348941'], pattern: re(`${START}(?:gl(?:pat|ptt|dt|rt|cbt|oas|ft|imt|soat|agent)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,})${END}`) },
  { type: 'npm_token', group: 0, gate: ['npm_'], pattern: re(`${START}npm_[A-Za-z0-9]{36}${END}`) },
  { type: 'pypi_token', group: 0, gate: ['pypi-'], pattern: re(`pypi-AgE[A-Za-z0-9_-]{50,}${END}`) },
  { type: 'rubygems_api_key', group: 0, gate: ['rubygems_'], pattern: re(`rubygems_[a-f0-9]{48}${END}`) },
  { type: 'nuget_api_key', group: 0, gate: ['oy2'], pattern: re(`${START}oy2[a-z0-9]{43}${END}`) },
  { type: 'crates_io_token', group: 0, gate: ['cio'], pattern: re(`${START}cio[A-Za-z0-9]{32}${END}`), check: (v) => /\d/.test(v) && /[A-Z]/.test(v) },
  { type: 'docker_hub_token', group: 0, gate: ['dckr_'], pattern: re(`${START}dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,}${END}`) },
  { type: 'artifactory_token', group: 0, gate: ['akcp', 'cmvmdg'], pattern: re(`${START}(?:AKCp[A-Za-z0-9]{69}|cmVmdGtu[A-Za-z0-9]{56})${END}`) },
  { type: 'atlassian_api_token', group: 0, gate: ['atatt'], pattern: re(`${START}ATATT3[A-Za-z0-9_=-]{100,}${END}`) },
  { type: 'dependency_track_key', group: 0, gate: ['odt_'], pattern: re(`${START}odt_[A-Za-z0-9]{32,}${END}`) },
  { type: 'sourcegraph_token', group: 0, gate: ['sgp_'], pattern: re(`${START}sgp_(?:[a-f0-9]{16}_|local_)?[A-Za-z0-9]{40,}${END}`) },
  { type: 'sonarqube_token', group: 0, gate: ['sqp_', 'squ_', 'sqa_'], pattern: re(`${START}sq[pua]_[a-f0-9]{40}${END}`) },
  { type: 'sonarqube_token', group: 1, gate: ['sonar'], pattern: /sonar[._-]?(?:login|token)\W{1,6}([a-f0-9]{40})(?![a-f0-9])/gi },
  { type: 'codeclimate_reporter_id', group: 1, gate: ['reporter_id'], pattern: /CC_TEST_REPORTER_ID\W{1,6}([a-f0-9]{64})(?![a-f0-9])/g },
  { type: 'jenkins_crumb', group: 1, gate: ['jenkins-crumb'], pattern: /Jenkins-Crumb\s*[:=]\s*([a-f0-9]{32,64})(?![a-f0-9])/gi },
  { type: 'jenkins_admin_password', group: 1, gate: ['proceed to installation'], pattern: /password to proceed to installation:\s+([a-f0-9]{32})(?![a-f0-9])/g },
  { type: 'postman_api_key', group: 0, gate: ['pmak-'], pattern: re(`${START}PMAK-[a-f0-9]{24}-[a-f0-9]{34}${END}`) },
  { type: 'grafana_token', group: 0, gate: ['glc_', 'glsa_', 'eyjrijoi'], pattern: re(`${START}(?:glc_[A-Za-z0-9+/]{32,}={0,2}|glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|eyJrIjoi[A-Za-z0-9+/]{40,}={0,2})${END}`) },
  { type: 'figma_token', group: 0, gate: ['figd_'], pattern: re(`${START}figd_[A-Za-z0-9_-]{40}${END}`) },

  // Messaging, payments and SaaS
  { type: 'slack_token', group: 0, gate: ['xox', 'xapp-'], pattern: re(`${START}(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\\d-[A-Za-z0-9-]{10,})${END}`) },
  { type: 'slack_webhook', group: 0, gate: ['hooks.slack'], pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/-]{20,}/g },
  { type: 'teams_webhook', group: 0, gate: ['webhook'], pattern: /https:\/\/(?:[a-z0-9-]+\.webhook\.office\.com\/webhookb2|outlook\.office(?:365)?\.com\/webhook)\/[0-9a-f-]{36}@[0-9a-f-]{36}\/[A-Za-z]+\/[0-9a-f]{32}\/[0-9a-f-]{36}(?:\/[A-Za-z0-9_-]+)?/g },
  { type: 'discord_webhook', group: 0, gate: ['discord'], pattern: /https:\/\/(?:ptb\.|canary\.)?discord(?:app)?\.com\/api\/webhooks\/\d{17,20}\/[A-Za-z0-9_-]{60,}/g },
  { type: 'telegram_bot_token', group: 0, gate: [':aa'], pattern: /(?<!\d)\d{8,10}:AA[0-9A-Za-z_-]{32,33}(?![A-Za-z0-9_-])/g },
  { type: 'stripe_key', group: 0, gate: ['_live_', '_test_'], pattern: re(`${START}(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}${END}`) },
  { type: 'stripe_webhook_secret', group: 0, gate: ['whsec_'], pattern: re(`${START}whsec_[A-Za-z0-9+/]{32,}={0,2}${END}`) },
  { type: 'square_token', group: 0, gate: ['sq0', 'eaaa'], pattern: re(`${START}(?:sq0atp-[0-9A-Za-z_-]{22}|sq0csp-[0-9A-Za-z_-]{43}|EAAA[A-Za-z0-9_-]{60})${END}`) },
  { type: 'sendgrid_key', group: 0, gate: ['sg.'], pattern: /SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}/g },
  { type: 'mailgun_api_key', group: 0, gate: ['key-'], pattern: re(`${START}key-[0-9a-f]{32}${END}`) },
  { type: 'mailchimp_api_key', group: 0, gate: ['-us'], pattern: /(?<![A-Za-z0-9])[0-9a-f]{32}-us\d{1,2}(?![A-Za-z0-9])/g },
  { type: 'postmark_token', group: 1, gate: ['postmark'], pattern: /postmark\w*["']?\s*[:=]\s*["']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/gi },
  { type: 'twilio_api_key', group: 0, gate: [], pattern: /(?<![A-Za-z0-9])SK[0-9a-f]{32}(?![A-Za-z0-9])/g },
  { type: 'shopify_token', group: 0, gate: ['shp'], pattern: /shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}/g },
  { type: 'facebook_token', group: 0, gate: ['eaacedeose0cba'], pattern: re(`EAACEdEose0cBA[0-9A-Za-z]{20,}${END}`) },
  { type: 'facebook_app_secret', group: 1, gate: ['facebook', 'fb'], pattern: /(?:facebook|fb)[A-Za-z0-9_.-]{0,20}?(?:key|secret)\b[^A-Za-z0-9\n]{1,12}(?:s:\d+:[^A-Za-z0-9\n]{1,4})?([a-f0-9]{32})(?![A-Za-z0-9])/gi },
  { type: 'mapbox_token', group: 0, gate: ['.eyj'], pattern: re(`${START}[pst]k\\.eyJ[A-Za-z0-9_-]{20,}\\.[A-Za-z0-9_-]{20,}${END}`) },
  { type: 'new_relic_key', group: 0, gate: ['nra', 'nri', 'px-'], pattern: re(`${START}(?:NRAK-[A-Z0-9]{27}|NRAA-[a-f0-9]{27}|NRI[IQ]-[A-Za-z0-9_-]{32}|NRRA-[a-f0-9]{42}|(?:eu01xx[a-f0-9]{30}|[a-f0-9]{36})NRAL|px-(?:api|dep)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})${END}`) },
  { type: 'adobe_client_secret', group: 0, gate: ['p8e-'], pattern: re(`${START}p8e-[A-Za-z0-9_-]{32}${END}`) },
  { type: 'adafruit_io_key', group: 0, gate: ['aio_'], pattern: re(`${START}aio_[A-Za-z0-9]{28}${END}`) },
  { type: 'twitch_stream_key', group: 0, gate: ['live_'], pattern: re(`${START}live_\\d{6,12}_[A-Za-z0-9]{30}${END}`) },
  { type: 'truenas_api_key', group: 0, gate: [], pattern: /(?<![A-Za-z0-9_-])\d{1,4}-[A-Za-z0-9]{64}(?![A-Za-z0-9_-])/g, check: (v) => tokenLike(v.slice(v.indexOf('-') + 1)) },
  { type: 'thingsboard_token', group: 1, gate: ['/api/v1/'], pattern: /\/api\/v1\/([A-Za-z0-9]{20})\/(?:telemetry|attributes|rpc|claim|provision)\b/g, check: (v) => /\d/.test(v) },

  // Tokens in standard places
  { type: 'jwt', group: 0, gate: ['eyj'], pattern: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { type: 'bearer_token', group: 1, gate: ['earer'], pattern: /\b[Bb]earer:?\s+([A-Za-z0-9._~+/-]{12,}=*)/g, check: (v) => /\d/.test(v) && notPlaceholder(v) && !/^[a-z]+(?:\.[a-z]+)+$/i.test(v) },
  { type: 'basic_auth', group: 1, gate: ['asic'], pattern: /\b[Bb]asic\s+([A-Za-z0-9+/]{12,}={0,2})(?![A-Za-z0-9+/=])/g, check: (v) => /\d|[A-Z].*[a-z]/.test(v) },

  // Credential slots
  { type: 'url_credentials', group: 1, gate: ['://'], pattern: /\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s:/@"'`]{0,64}:([^\s/@"'`]{3,128})@(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])/g, check: (v, text, start) => slotValue(v) && !anonymousLogin(text, start) },
  { type: 'connection_string_password', group: 1, gate: ['password', 'pwd'], pattern: /(?:^|[;"'\s])(?:Password|Pwd)\s*=\s*([^;"'\s]{3,128})(?=;|["']|\s|$)/gim, check: (v, text, start) => slotValue(v) && /(?:Server|Data Source|Host|Uid|User ?Id|Database|Initial Catalog|Provider|Driver|Dsn)\s*=/i.test(text.slice(Math.max(0, start - 300), start + 300)) },
  { type: 'connection_string_password', group: 1, gate: ['jdbc:oracle'], pattern: /jdbc:oracle:(?:thin|oci8?|kprb):[^/\s@:"']{1,64}\/([^@\s"']{3,128})@/g, check: slotValue },
  { type: 'connection_string_password', group: 1, gate: ['password', 'pwd', 'pass'], pattern: /[?&;](?:password|passwd|pwd|pass)=([^&;\s"'#]{3,128})/gi, check: slotValue },
  { type: 'cli_password', group: -1, gate: ['-p', '--pass', '-password', '--token', '--registration-token', '--api-key', '--apikey', '--secret', '--client-secret'], pattern: /(?<![\w-])(?:-p[ \t]+|--?(?:password|passwd|registration-token|token|api-?key|secret|client-secret)(?:=|[ \t]+))(?:"([^"\n]{3,128})"|'([^'\n]{3,128})'|([^\s"'|;&`]{3,128}))/gi, check: (v, text, start) => slotValue(v) && !/^-/.test(v) && cliFlagFits(v, text, start) },
  { type: 'cli_password', group: 1, gate: ['-u'], pattern: /(?<![\w-])-u[ \t]+["']?[^\s:"']{1,64}:([^\s"'@]{3,128})(?=["']?(?:\s|$))/g, check: slotValue },
  { type: 'netrc_password', group: 1, gate: ['machine'], pattern: /\bmachine\s+\S+\s+login\s+\S+\s+password\s+(\S{3,128})/g, check: (v, text, start) => slotValue(v) && !anonymousLogin(text, start) },
  { type: 'password', group: -1, gate: ['password'], pattern: /\bpassword\s+(?:for|of)\s+(?:the\s+)?(?:user|account|login)\s+["']?[^\s"']{1,64}["']?\s+is\s+(?:"([^"\n]{3,64})"|'([^'\n]{3,64})'|([^\s"'.,;]{3,64}))/gi, check: (v) => notPlaceholder(v) && v.length >= 4 },
  { type: 'dotnet_credentials', group: 1, gate: ['networkcredential'], pattern: /NetworkCredential\(\s*"[^"\n]*"\s*,\s*"([^"\n]{3,128})"/g, check: slotValue },
  { type: 'dotnet_credentials', group: 1, gate: ['directoryentry'], pattern: /DirectoryEntry\(\s*"[^"\n]*"\s*,\s*"[^"\n]*"\s*,\s*"([^"\n]{3,128})"/g, check: slotValue },
  // Gradle `credentials { username '…'; password '…' }` (Groovy or Kotlin DSL): a repository login, so
  // a slot — any string literal is the password (even `'password'`); Groovy/Kotlin `"$x"` interpolation is not.
  { type: 'gradle_credentials', group: -1, gate: ['credentials'], pattern: /\bcredentials\s*(?:\([^()\n]*\)\s*)?\{[^{}]{0,400}?\bpassword\s*=?\s*(?:"([^"\n]{3,128})"|'([^'\n]{3,128})')/g, check: (v, text, start) => slotValue(v) && !interpolatedSlot(v, text, start) },
  // PHPMailer / SwiftMailer SMTP login in PHP: `$mail->Password = '…'`, `->setPassword('…')` (their
  // spelling, case-sensitive; other `->password` properties go through the named-value layer). The
  // property is the SMTP password whatever literal is assigned; `"$x"` is PHP interpolation.
  { type: 'password', group: -1, gate: ['->password', '->setpassword'], pattern: /\$\w+->(?:Password\s*=|setPassword\s*\()\s*(?:"([^"\n]{3,128})"|'([^'\n]{3,128})')/g, check: (v, text, start) => slotValue(v) && !interpolatedSlot(v, text, start) && !anonymousLogin(text, start) },
  // XML password elements: Maven settings.xml `<server><password>…</password>`, JBoss/WildFly datasources,
  // Hibernate/Spring `<property name="…password">…</property>`. Maven's `{…}` encrypted form and `${…}` are template syntax.
  { type: 'password', group: -1, gate: ['password>', 'password"', "password'"], pattern: /<[\w.:-]*password>([^<>\n]{3,128})(?=<\/[\w.:-]*password>)|<property\s+name=["'][\w.-]*password["']\s*>([^<>\n]{3,128})(?=<\/property>)/gi, check: xmlPasswordSlot },
  // PowerShell turns a plain-text literal into a credential: `ConvertTo-SecureString '…' -AsPlainText`.
  { type: 'password', group: -1, gate: ['convertto-securestring'], pattern: /ConvertTo-SecureString\s+(?:-String\s+)?(?:"([^"\n]{3,128})"|'([^'\n]{3,128})')(?=\s+-AsPlainText)/gi, check: (v, text, start) => slotValue(v) && !interpolatedSlot(v, text, start) },
  { type: 'terraform_default_secret', group: 1, gate: ['variable'], pattern: /\bvariable\s+"[^"\n]*(?:pass|secret|token|key)[^"\n]*"\s*\{[^}]{0,200}?\bdefault\s*=\s*"([^"\n]{8,256})"/gi, check: (v) => tokenLike(v, true) },
  { type: 'dotnet_config_secret', group: 1, gate: ['<add'], pattern: /<add\s+key="[^"]*(?:password|pwd|secret|token|apikey|api_key)[^"]*"\s+value="([^"]{3,256})"/gi, check: slotValue },
];

/** The text of an XML password element or property: not template syntax, and not a UI label
 * element such as `<resetPassword>Reset password</resetPassword>` (same deny words as named values). */
function xmlPasswordSlot(v: string, text: string, start: number): boolean {
  if (!slotValue(v) || /^\s|\s$/.test(v)) return false;
  const head = /(?:<([\w.:-]*)password>|name=["']([\w.-]*)password["']\s*>)$/i.exec(text.slice(Math.max(0, start - 120), start));
  const prefix = (head?.[1] ?? head?.[2] ?? '').replace(/[_.:-]$/, '');
  return !NAME_PREFIX_DENY.test(lastWord(prefix));
}

/** `-p value` is a password for psexec/docker/mysql-like commands, not for `mkdir -p dir` or `ssh -p 22`. */
function cliFlagFits(v: string, text: string, start: number): boolean {
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  const before = text.slice(lineStart, start);
  const flag = /(-p[ \t]+["']?|--?[\w-]+(?:=|[ \t]+)["']?)$/.exec(before)?.[1] ?? '';
  if (!flag.startsWith('-p')) return true;
  // A short `-p` needs a user flag on the same command and a non-numeric, non-path value.
  return /(?:^|\s)-(?:u|U|user|User|username)[ \t]+\S/.test(before) && !/^\d+$/.test(v) && !/^[./~]/.test(v);
}

/** An AWS secret access key: base64 of random bytes, so two character classes at least and no single repeated character. */
function awsSecretKey(v: string): boolean {
  const classes = (/[a-z]/.test(v) ? 1 : 0) + (/[A-Z]/.test(v) ? 1 : 0) + (/\d/.test(v) ? 1 : 0) + (/[/+]/.test(v) ? 1 : 0);
  return classes >= 2 && entropy(v) >= 3;
}

// ---------------------------------------------------------------------------------------------
// 4. Identifiers: sensitive names that are not credentials (reported; redacted only on request)
// ---------------------------------------------------------------------------------------------

/** A client id or username that is a literal: not a placeholder, a variable, an expression or a URL. */
function literalName(v: string): boolean {
  return notPlaceholder(v) && !/^[$%{<@&*]/.test(v) && !v.includes('://') && !/^\d+$/.test(v) && !/^[A-Za-z_]\w*(?:\.\w+)+$/.test(v);
}

/** An OAuth client id: a literal with a digit that looks generated (or a UUID, as Azure's are). */
function clientIdValue(v: string): boolean {
  if (UUID.test(v)) return !/^0{8}-/.test(v);
  return literalName(v) && /\d/.test(v) && /[A-Za-z]/.test(v) && !looksMadeUp(v) && entropy(v) >= 3;
}

/** A bucket name that is not a documentation example (a name under a reserved documentation domain). */
function realBucket(v: string): boolean {
  return !DOC_DOMAIN.test(v);
}

const S3_REGION = '(?:[.-](?:dualstack|accelerate|website|external-1|[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\\d))*';
const BUCKET = '[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]';

const IDENTIFIER_RULES: readonly SecretRule[] = [
  // arn:partition:service:region:account:resource; the resource runs to whitespace or a quote. AWS-managed
  // resources (account `aws`, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess) are the same public name everywhere.
  { type: 'aws_arn', group: 0, gate: ['arn:aws'], pattern: /\barn:aws(?:-cn|-us-gov|-iso(?:-[a-z])?)?:[a-z0-9-]{2,}:[a-z0-9-]*:(?:\d{12})?:[^\s"'`<>\\]*[^\s"'`<>\\.,;:)\]]/g },
  { type: 'aws_account_id', group: 1, gate: ['account'], pattern: /\baws[ _.-]?account[ _.-]?(?:id|number|no)?["'`]?[ \t]*(?::|=>|:=|=)[ \t]*["'`]?(\d{12}|\d{4}-\d{4}-\d{4})(?![\d-])/gi },
  // S3 buckets: virtual-hosted (<bucket>.s3[.region].amazonaws.com), path style (s3[.region].amazonaws.com/<bucket>), s3:// URIs.
  { type: 's3_bucket', group: 1, gate: ['amazonaws.com'], pattern: re(`(?<![a-z0-9.-])(${BUCKET})\\.s3${S3_REGION}\\.amazonaws\\.com(?:\\.cn)?(?![a-z0-9-])`), check: realBucket },
  // (not the S3 XML namespace, s3.amazonaws.com/doc/2006-03-01/, found in every S3 API response)
  { type: 's3_bucket', group: 1, gate: ['amazonaws.com'], pattern: re(`(?<![a-z0-9.-])s3${S3_REGION}\\.amazonaws\\.com(?:\\.cn)?/(?!doc/\\d{4}-)(${BUCKET})(?![a-z0-9_-])`), check: realBucket },
  { type: 's3_bucket', group: 1, gate: ['s3://', 's3a://', 's3n://'], pattern: re(`\\bs3[an]?://(${BUCKET})(?![A-Za-z0-9_{$-])`), check: realBucket },
  // Cloud Storage buckets: <bucket>.storage.googleapis.com, storage.googleapis.com/<bucket> (not the JSON API paths), gs:// URIs.
  { type: 'gcs_bucket', group: 1, gate: ['storage.googleapis.com'], pattern: /(?<![a-z0-9._-])([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])\.storage\.googleapis\.com(?![a-z0-9-])/g, check: realBucket },
  { type: 'gcs_bucket', group: 1, gate: ['storage.googleapis.com', 'storage.cloud.google.com'], pattern: /(?<![a-z0-9.-])storage\.(?:googleapis|cloud\.google)\.com\/(?!(?:storage|upload|batch|download)\/)([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?![a-z0-9_-])/g, check: realBucket },
  { type: 'gcs_bucket', group: 1, gate: ['gs://'], pattern: /\bgs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?![A-Za-z0-9_{$-])/g, check: realBucket },
  { type: 'shopify_domain', group: 1, gate: ['myshopify.com'], pattern: /(?<![a-z0-9.-])((?:[a-z0-9][a-z0-9-]*\.)*[a-z0-9][a-z0-9-]*)\.myshopify\.com(?![a-z0-9-])/gi, check: (v) => v.toLowerCase() !== 'www' },
  // OAuth client ids: Google's format, GitHub App / OAuth App ids, and values named client id / consumer key / <provider> id.
  { type: 'oauth_client_id', group: 0, gate: ['.apps.googleusercontent.com'], pattern: /(?<![A-Za-z0-9-])\d{6,}-[a-z0-9]{32}\.apps\.googleusercontent\.com/g },
  { type: 'oauth_client_id', group: 0, gate: ['iv1.', 'iv23li', 'ov23li'], pattern: /(?<![A-Za-z0-9.])(?:Iv1\.[a-f0-9]{16}|[IO]v23li[A-Za-z0-9]{14})(?![A-Za-z0-9])/g },
  { type: 'oauth_client_id', group: 1, gate: ['client', 'consumer', 'twitter', 'linkedin', 'github', 'facebook'], pattern: /(?:client[_.-]?id|consumer[_.-]?key|(?:twitter|linkedin|github|facebook)[_.-]?(?:oauth2?[_.-]?|app[_.-]?|api[_.-]?)?(?:client[_.-]?)?(?:id|key))(?![A-Za-z0-9])["'`]?[ \t]*(?::|=>|:=|=)[ \t]*["'`]?([A-Za-z0-9._~-]{10,100})(?![A-Za-z0-9._~-])/gi, check: clientIdValue },
  // Usernames in env files: <PREFIX>_USER / _USERNAME / _LOGIN = literal (REACT_APP_*, DB_*, SMTP_*, ...).
  { type: 'username', group: 1, gate: ['_user', '_login'], pattern: /^[ \t]*(?:#[ \t]*)?(?:export[ \t]+)?["']?[A-Z][A-Z0-9_]*_(?:USER|USERNAME|USER_NAME|LOGIN)["']?[ \t]*[=:][ \t]*["']?([^\s"'#]{2,64})/gm, check: literalName },
  // age X25519 recipients (public keys): age1 + 58 bech32 characters.
  { type: 'age_recipient', group: 0, gate: ['age1'], pattern: /(?<![A-Za-z0-9])age1[02-9ac-hj-np-z]{58}(?![A-Za-z0-9])/g },
];

// ---------------------------------------------------------------------------------------------
// 3. Named values
// ---------------------------------------------------------------------------------------------

// Keywords that make a name interesting; found first with one cheap scan, then expanded to the name.
const NAME_KEYWORD = /pass(?:word|wd|phrase)?|pwd|secret|token|credential|key|pat/gi;

/** [A-Za-z0-9_.$-] without a regex call per character. */
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 36 || c === 45;
}
// After the name: optional closing quote, an operator, optional opening quote, the value.
const VALUE_AFTER = /(\\?["'`]?)\]?[ \t]*(=>|:=|===?|!==?|=|:|,|[ \t]+is[ \t]+|[ \t]+(?=\\?["']))[ \t]*(?:\r?\n[ \t]*)?(?:s:\d+:)?(?:\\?"((?:[^"\\\n]|\\[^"])*)\\?"|'((?:[^'\\\n]|\\[^'])*)'|`([^`\n]*)`|([^\s"'`,;)}\]]+))/y;
// Parts of a name that say the value is not the credential itself.
const NAME_SUFFIX_DENY = /(?:^|[_.-]|(?<=[a-z]))(?:id|ids|name|names|type|url|uri|path|file|label|field|input|hint|placeholder|prompt|text|title|msg|message|error|policy|length|len|min|max|regex|pattern|rule|rules|reset|forgot|change|expires?|expiry|expiration|ttl|timeout|required|enabled?|mode|strength|visible|visibility|toggle|hidden|column|selector|icon|button|btn|form|page|view|link|route|endpoint|template|header|prefix|count|size|limit|format|version|status|state|provider|manager|service|helper|handler|validator|generator|factory|model|schema|class|dialog|modal|component|request|response|event|callback|hash(?:ed)?|salt|digest|algorithm|algo|cipher|index|idx|location|loc|dir|store|env|var|flag|param|params|option|options|config|settings)$/i;
// Words right before the keyword that say the same. Matched against the whole last word of the
// prefix (`max_password`, `showPassword`, `FORGOT_PASSWORD`), not its tail: `ADMIN_PASSWORD` and
// `REDIS_PASSWORD` are credentials even though "admin" ends in "min" and "redis" in "is".
const NAME_PREFIX_DENY = /^(?:forgot|reset|change|public|cache|primary|foreign|sort|partition|idempotency|lookup|max|min|num|show|hide|has|is|use|enable|disable|validate|check|verify|input)$/i;

/** The last word of a name prefix: after the last separator, or its last camelCase word. */
function lastWord(prefix: string): string {
  const part = prefix.slice(Math.max(prefix.lastIndexOf('_'), prefix.lastIndexOf('.'), prefix.lastIndexOf('-')) + 1);
  return /(?:[A-Z]?[a-z0-9]+|[A-Z0-9]+)$/.exec(part)?.[0] ?? part;
}

type NameKind = 'password' | 'secret' | 'token';

function nameKind(name: string, keyword: string): NameKind {
  const k = keyword.toLowerCase();
  if (k.startsWith('pass') || k === 'pwd') return 'password';
  if (k === 'secret') return 'secret';
  return 'token';
}

/** A literal that can be a password: not a placeholder, not code, not a path or URL, not the name itself. */
function passwordLiteral(v: string, name: string, quoted: boolean, configLine: boolean): boolean {
  if (v.length < 4 || v.length > 200 || !notPlaceholder(v)) return false;
  if (/^[$.,(/&[{<#:;@|=%]/.test(v) || /:$/.test(v) || /\s{2}/.test(v)) return false;
  if (/^\w+:\/\/|^\/|\w\/\w+\/|\(\)?$|\$\(|#\{|\$\{|\{\{/.test(v)) return false;
  if (/^[a-z][a-z0-9+.-]*:\S*\//i.test(v) || /(.)\1{5}/.test(v)) return false;
  if (v.toLowerCase() === name.toLowerCase() || /^[A-Z][A-Z0-9]*_[A-Z0-9_]+$/.test(v) || /^[A-Z]{4,}$/.test(v)) return false;
  if (/ /.test(v) && (!quoted || v.split(' ').length > 3)) return false;
  if (!quoted && !configLine && (IDENTIFIER_ONLY.test(v) || /[()[\]{}<>]/.test(v))) return false;
  return true;
}

const isLower = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';
const isUpper = (c: string | undefined): boolean => c !== undefined && c >= 'A' && c <= 'Z';

// Lower-case words often glued to a keyword without a separator ("apikey", "jwtsecret", "dbpass").
const GLUED_PREFIX = /(?:^|[^A-Za-z])(?:api|access|auth|private|secret|client|app|jwt|db|admin|root|user|master|session|bot|bearer|refresh|license|licence|signing|encryption|consumer|webhook|deploy|service|account|sonar|mail|smtp|ftp|ssh|login|fbconnect|fb|stream|insert|query)$/i;

/** The keyword is a word of the name: snake/kebab/dot separated, camelCase or ALL CAPS, not the
 * inside of another word ("bypass", "passport", "tokenizer", "monkey", "path"). */
function keywordIsWord(text: string, start: number, end: number): boolean {
  const before = text[start - 1];
  // After a lower-case letter only a camelCase word may start; after an upper-case one, ALL CAPS.
  if ((isLower(before) || isUpper(before)) && !isUpper(text[start]) && !GLUED_PREFIX.test(text.slice(Math.max(0, start - 24), start))) return false;
  return !isLower(text[end]);
}

// Statement syntax that says a text is program code rather than a config file.
const CODE_SYNTAX = /[;{}]\s*$|\)\s*$|\b(?:def|function|const|let|var|import|return|class|public|private|if|elif|else)\b/m;

function scanNamedValues(text: string, found: SecretMatch[]): void {
  NAME_KEYWORD.lastIndex = 0;
  let codeText: boolean | undefined;
  let lastEnd = -1;
  for (let m = NAME_KEYWORD.exec(text); m !== null; m = NAME_KEYWORD.exec(text)) {
    if (!keywordIsWord(text, m.index, m.index + m[0].length)) continue;
    // Expand the keyword to the whole name (letters, digits, _ . $ -).
    let e = m.index + m[0].length;
    while (e < text.length && isNameChar(text.charCodeAt(e))) e++;
    if (e <= lastEnd) continue;
    // A trailing "." or "-" belongs to the sentence, not the name.
    while (e > m.index + m[0].length && (text[e - 1] === '.' || text[e - 1] === '-')) e--;
    // Most keywords in prose or code are not followed by an assignment: test that first.
    VALUE_AFTER.lastIndex = e;
    const v = VALUE_AFTER.exec(text);
    if (v === null) continue;
    let s = m.index;
    while (s > 0 && isNameChar(text.charCodeAt(s - 1))) s--;
    const name = text.slice(s, e).replace(/^\$/, '');
    const kwAt = m.index - s - (text[s] === '$' ? 1 : 0);
    const after = name.slice(kwAt + m[0].length);
    const beforeKw = name.slice(0, kwAt);
    if (NAME_SUFFIX_DENY.test(after) || NAME_PREFIX_DENY.test(lastWord(beforeKw.replace(/[_.-]$/, '')))) continue;
    const openQuote = s > 0 && /["'`]/.test(text[s - 1]);
    const op = v[2].trim();
    const raw = v[3] ?? v[4] ?? v[5] ?? v[6];
    if (raw === undefined || raw === '') continue;
    const quoted = v[6] === undefined;
    // `NAME, value` only in a call such as env('NAME', 'value') or setProperty("NAME", "value").
    if (op === ',' && !(openQuote && quoted)) continue;
    // `NAME "value"` (Groovy/Gradle style) only with a quoted value and a password/secret name.
    if (op === '' && !quoted) continue;
    let value = raw;
    // A quoted value that is itself quoted ('"abc"') or escaped.
    value = value.replace(/^\\?["']|\\?["']$/g, '');
    if (value === '') continue;
    const kind = nameKind(name, m[0]);
    if (op === '' && kind === 'token') continue;
    const lineStart = text.lastIndexOf('\n', s - 1) + 1;
    // An env/INI/YAML line (`KEY=value`, `key: value`) holds literals; `name = value` in code may hold a variable.
    const between = text.slice(e, v.index + v[0].length - raw.length).replace(/["'`\\]/g, '');
    // INI files also write `key = value`: accepted when the text has no code syntax and the value is no attribute access.
    const lineHead = /^\s*(?:export\s+|set\s+|#\s*|\/\/\s*|-\s+)?["']?$/.test(text.slice(lineStart, s));
    const iniStyle = /^[ \t]+=[ \t]+$/.test(between) && !/^[A-Za-z_]\w*(?:\.\w+)+$/.test(value) && !(codeText ??= CODE_SYNTAX.test(text));
    const configLine = lineHead && (between === '=' || /^:[ \t]+$/.test(between) || iniStyle);
    let ok: boolean;
    if (kind === 'password') ok = passwordLiteral(value, name, quoted, configLine) && (quoted || configLine || op === '=' || /[\d\W]/.test(value)) && !anonymousLogin(text, s);
    else if (kind === 'secret') ok = tokenLike(value, true) || ((quoted || configLine) && passwordLiteral(value, name, quoted, configLine) && value.length >= 6 && !looksMadeUp(value));
    else ok = tokenLike(value, /token|secret|api[_-]?key|apikey|access[_-]?key/i.test(name));
    if (!ok || publishedExample(value)) continue;
    const valueStart = text.indexOf(value, v.index + v[1].length + 1);
    if (valueStart < 0) continue;
    const valueEnd = valueStart + value.length;
    lastEnd = valueEnd;
    if (found.some((f) => valueStart < f.end && valueEnd > f.start)) continue;
    found.push({ kind: 'credential', type: kind === 'password' ? 'password' : 'generic_secret', start: valueStart, end: valueEnd });
  }
}

// Candidates for randomToken: maximal runs of token characters.
const TOKEN_RUN = /(?<![A-Za-z0-9_+/=.~-])[A-Za-z0-9_+/~.-]{32,256}={0,2}(?![A-Za-z0-9_+/=~-])/g;
// Words that make a random-looking token a likely credential when they stand before it.
const CREDENTIAL_CONTEXT = /key|token|secret|passw|pwd|passphrase|credential|auth|bearer|session|cookie/i;
const CONTEXT_CHARS = 100;

/**
 * A credential word before the token: on its line (at most CONTEXT_CHARS back), or on the
 * previous line when the token starts its line ("API token:\n<token>"). Without it a random-looking
 * run is more often an id, a cache key, a nonce or an opaque handle than a secret.
 */
function credentialContext(text: string, start: number): boolean {
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  const before = text.slice(Math.max(lineStart, start - CONTEXT_CHARS), start);
  if (CREDENTIAL_CONTEXT.test(before)) return true;
  if (lineStart === 0 || /[A-Za-z0-9]/.test(text.slice(lineStart, start))) return false;
  const prevStart = text.lastIndexOf('\n', lineStart - 2) + 1;
  return CREDENTIAL_CONTEXT.test(text.slice(Math.max(prevStart, lineStart - 1 - CONTEXT_CHARS), lineStart - 1));
}

function scanRandomTokens(text: string, found: SecretMatch[]): void {
  TOKEN_RUN.lastIndex = 0;
  for (let m = TOKEN_RUN.exec(text); m !== null; m = TOKEN_RUN.exec(text)) {
    let value = m[0].replace(/\.+$/, '');
    // Dotted names (a.b.c) and paths are not tokens; split on them and judge the longest part.
    const parts = value.split(/[./]/);
    if (parts.length > 1) value = parts.reduce((a, b) => (b.length > a.length ? b : a), '');
    const start = m.index + m[0].indexOf(value);
    const end = start + value.length;
    if (found.some((f) => start < f.end && end > f.start)) continue;
    if (!credentialContext(text, m.index) || !randomToken(value, text, start) || inBase64Block(text, m.index, m.index + m[0].length)) continue;
    if (publishedExample(value)) continue;
    found.push({ kind: 'credential', type: 'high_entropy_token', start, end });
  }
}

// One pass over the lower-cased text finds every rule's gate strings (see gate.scan.ts).
const ALL_RULES: readonly SecretRule[] = [...RULES, ...IDENTIFIER_RULES];
const GATES = buildGateIndex(ALL_RULES.map((r) => r.gate));
const GATE_IDS = ALL_RULES.map((r) => (r.gate.length === 0 ? null : GATES.idsOf(r.gate)));

/** Runs ALL_RULES[from, to) and adds their matches that overlap nothing found so far. */
function runRules(text: string, present: Uint8Array, from: number, to: number, kind: SecretKind, found: SecretMatch[]): void {
  for (let r = from; r < to; r++) {
    const rule = ALL_RULES[r];
    const ids = GATE_IDS[r];
    if (ids !== null && !ids.some((id) => present[id] === 1)) continue;
    rule.pattern.lastIndex = 0;
    for (let m = rule.pattern.exec(text); m !== null; m = rule.pattern.exec(text)) {
      let value = m[0];
      let start = m.index;
      if (rule.group !== 0) {
        let v: string | undefined;
        if (rule.group > 0) v = m[rule.group];
        else for (let g = 1; g < m.length && v === undefined; g++) v = m[g];
        if (v === undefined) continue;
        start = m.index + m[0].lastIndexOf(v);
        value = v;
      }
      if (rule.check !== undefined && !rule.check(value, text, start)) continue;
      if (publishedExample(value)) continue;
      const end = start + value.length;
      if (found.some((f) => start < f.end && end > f.start)) continue;
      found.push({ kind, type: rule.type, start, end });
    }
  }
}

/**
 * Finds credentials and sensitive identifiers in `text`; spans are offsets into `text` and do not
 * overlap. Credentials are looked for first (provider formats and slots, named values, random
 * tokens), identifiers last, so a span is never both and a credential is never lost to an identifier.
 */
export function detectSecrets(text: string): SecretMatch[] {
  const found: SecretMatch[] = [];
  if (text.length < 8) return found;
  const present = GATES.scan(text.toLowerCase());
  runRules(text, present, 0, RULES.length, 'credential', found);
  scanNamedValues(text, found);
  scanRandomTokens(text, found);
  runRules(text, present, RULES.length, ALL_RULES.length, 'identifier', found);
  return found;
}
