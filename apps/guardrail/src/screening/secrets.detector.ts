/**
 * Secret detection: provider tokens with recognisable prefixes, JWTs, bearer tokens,
 * PEM private keys, credentials in URLs, `password=`-style assignments and
 * high-entropy values assigned to key/secret/token names. Runs on the `clean` view;
 * the span covers the secret value only, so "Authorization: Bearer" stays readable.
 */

export interface SecretMatch {
  type: string;
  start: number;
  end: number;
}

interface SecretRule {
  readonly type: string;
  readonly pattern: RegExp;
  /** Index of the capture group holding the secret; 0 = whole match. */
  readonly group: number;
  readonly check?: (value: string) => boolean;
}

const TOKEN_END = '(?![A-Za-z0-9_-])';

const PLACEHOLDER = /^(?:x+|\*+|\.+|#+|-+|0+|changeme|change_me|password|passwd|secret|token|redacted|example|sample|dummy|test|null|none|nil|undefined|true|false|str|string|int|bool|boolean|any|number|required|optional|empty|todo|tbd|your[_-]?\w*|my[_-]?\w*|<[^>]*>|\[[^\]]*\]|\{[^}]*\}|\$\{?[A-Za-z_][\w.]*\}?|%\(?\w*\)?s?|\{\{.*\}\}|(?:os\.)?(?:env|environ|getenv|process\.env)\b.*|\w+\(.*)$/i;
const IDENTIFIER_ONLY = /^[A-Za-z_][A-Za-z_.]*$/;

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
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

function passwordValue(v: string): boolean {
  // Unquoted bare words in code are variable names (`password = pwd`), not secrets.
  return v.length >= 4 && notPlaceholder(v) && !IDENTIFIER_ONLY.test(v);
}

function highEntropy(v: string): boolean {
  if (!notPlaceholder(v) || v.length < 16) return false;
  const classes = (/[a-z]/.test(v) ? 1 : 0) + (/[A-Z]/.test(v) ? 1 : 0) + (/\d/.test(v) ? 1 : 0);
  if (classes < 2 || !/\d/.test(v)) return false;
  // Hex digests need less entropy per char than mixed alphabets to be random.
  return entropy(v) >= (/^[0-9a-f]+$/i.test(v) ? 3.0 : 3.5);
}

const SECRET_NAME = '(?:[A-Za-z0-9]+[_.-])*(?:api[_.-]?key|apikey|secret(?:[_.-]?key)?|client[_.-]?secret|access[_.-]?(?:key|token)|auth[_.-]?(?:key|token)|private[_.-]?key|token|credentials?|signing[_.-]?key|encryption[_.-]?key|session[_.-]?key|app[_.-]?key|master[_.-]?key)(?:[_.-][A-Za-z0-9]+)*';
const PASSWORD_NAME = '(?:[A-Za-z0-9]+[_.-])*(?:password|passwd|pwd|passphrase|pass)(?:[_.-][A-Za-z0-9]+)*';
const ASSIGN = '["\']?\\s*(?::=|=>|=|:|\\s+is\\s+)\\s*';

const RULES: readonly SecretRule[] = [
  { type: 'private_key', group: 0, pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g },
  { type: 'anthropic_api_key', group: 0, pattern: new RegExp(`sk-ant-(?:api|admin|oat|sid)?\\d{0,2}-?[A-Za-z0-9_-]{20,}${TOKEN_END}`, 'g') },
  { type: 'openai_api_key', group: 0, pattern: new RegExp(`(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}${TOKEN_END}`, 'g'), check: (v) => /\d/.test(v) },
  { type: 'aws_access_key_id', group: 0, pattern: /(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])/g },
  { type: 'github_token', group: 0, pattern: new RegExp(`(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})${TOKEN_END}`, 'g') },
  { type: 'gitlab_token', group: 0, pattern: new RegExp(`gl(?:pat|ptt|dt|rt|cbt|oas)-[A-Za-z0-9_-]{20,}${TOKEN_END}`, 'g') },
  { type: 'slack_token', group: 0, pattern: new RegExp(`xox[abposre]-[A-Za-z0-9-]{10,}${TOKEN_END}|xapp-\\d-[A-Za-z0-9-]{10,}`, 'g') },
  { type: 'slack_webhook', group: 0, pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows)\/[A-Za-z0-9_/-]{20,}/g },
  { type: 'google_api_key', group: 0, pattern: new RegExp(`AIza[0-9A-Za-z_-]{35}${TOKEN_END}`, 'g') },
  { type: 'google_oauth_secret', group: 0, pattern: new RegExp(`GOCSPX-[A-Za-z0-9_-]{28}${TOKEN_END}`, 'g') },
  { type: 'stripe_key', group: 0, pattern: new RegExp(`(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}${TOKEN_END}`, 'g') },
  { type: 'huggingface_token', group: 0, pattern: new RegExp(`hf_[A-Za-z0-9]{34,}${TOKEN_END}`, 'g') },
  { type: 'npm_token', group: 0, pattern: new RegExp(`npm_[A-Za-z0-9]{36}${TOKEN_END}`, 'g') },
  { type: 'pypi_token', group: 0, pattern: new RegExp(`pypi-AgE[A-Za-z0-9_-]{50,}${TOKEN_END}`, 'g') },
  { type: 'sendgrid_key', group: 0, pattern: /SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}/g },
  { type: 'digitalocean_token', group: 0, pattern: /do[opr]_v1_[a-f0-9]{64}/g },
  { type: 'shopify_token', group: 0, pattern: /shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}/g },
  { type: 'age_secret_key', group: 0, pattern: /AGE-SECRET-KEY-1[0-9A-Z]{58}/g },
  { type: 'telegram_bot_token', group: 0, pattern: /(?<!\d)\d{8,10}:AA[0-9A-Za-z_-]{33}(?![A-Za-z0-9_-])/g },
  { type: 'azure_storage_key', group: 1, pattern: /AccountKey=([A-Za-z0-9+/]{40,}={0,2})/g },
  { type: 'jwt', group: 0, pattern: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  { type: 'bearer_token', group: 1, pattern: /\b[Bb]earer\s+([A-Za-z0-9._~+/-]{16,}=*)/g, check: (v) => /\d/.test(v) && notPlaceholder(v) },
  { type: 'basic_auth', group: 1, pattern: /\b[Bb]asic\s+([A-Za-z0-9+/]{12,}={0,2})(?![A-Za-z0-9+/=])/g, check: (v) => /\d|[A-Z].*[a-z]/.test(v) },
  { type: 'url_credentials', group: 1, pattern: /\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s:/@]{1,64}:([^\s:/@]{3,128})@[A-Za-z0-9.-]+/g, check: notPlaceholder },
  { type: 'password', group: 1, pattern: new RegExp(`\\b${PASSWORD_NAME}${ASSIGN}(?:"([^"\\s]{1,200})"|'([^'\\s]{1,200})'|([^\\s"',;)}\\]]{1,200}))`, 'gi'), check: passwordValue },
  { type: 'generic_secret', group: 1, pattern: new RegExp(`\\b${SECRET_NAME}${ASSIGN}["']?([A-Za-z0-9_+/=.~-]{16,512})`, 'gi'), check: highEntropy },
];

// Pre-check: no rule can match without one of these. Matched against the lower-cased text
// case-sensitively, which finds everything the same alternation with the `i` flag finds (its
// letters are ASCII and only ASCII letters fold to them) at less than half the cost.
const QUICK = /sk-|akia|asia|agpa|aida|aroa|aipa|anpa|anva|abia|acca|gh[pousr]_|github_pat_|gl(?:pat|ptt|dt|rt|cbt|oas)-|xox|xapp-|hooks\.slack|aiza|gocspx|_live_|_test_|hf_|npm_|pypi-|sg\.|_v1_|shp|age-secret|:aa|accountkey|eyj|earer|asic|:\/\/|private key|pass|pwd|key|secret|token|credential/;

/** Finds secrets in `text`; spans are offsets into `text` and do not overlap. */
export function detectSecrets(text: string): SecretMatch[] {
  const found: SecretMatch[] = [];
  if (!QUICK.test(text.toLowerCase())) return found;
  for (const rule of RULES) {
    rule.pattern.lastIndex = 0;
    for (let m = rule.pattern.exec(text); m !== null; m = rule.pattern.exec(text)) {
      let value = m[0];
      let start = m.index;
      if (rule.group > 0) {
        // The password rule has three alternative value groups (", ', bare).
        const v = m[rule.group] ?? m[rule.group + 1] ?? m[rule.group + 2];
        if (v === undefined) continue;
        start = m.index + m[0].lastIndexOf(v);
        value = v;
      }
      if (rule.check !== undefined && !rule.check(value)) continue;
      const end = start + value.length;
      if (found.some((f) => start < f.end && end > f.start)) continue;
      found.push({ type: rule.type, start, end });
    }
  }
  return found;
}
