import { describe, expect, it } from '@jest/globals';
import { detectSecrets, randomToken, tokenLike } from './secrets.detector';
import { mulberry32 } from '@keel/testing';

const found = (text: string): string[] => detectSecrets(text).map((m) => `${m.type}:${text.slice(m.start, m.end)}`);
const credentials = (text: string): string[] => detectSecrets(text).filter((m) => m.kind === 'credential').map((m) => `${m.type}:${text.slice(m.start, m.end)}`);
const identifiers = (text: string): string[] => detectSecrets(text).filter((m) => m.kind === 'identifier').map((m) => `${m.type}:${text.slice(m.start, m.end)}`);

// Fixtures are synthetic and assembled at runtime, so no secret-looking literal sits in the source
// (and none comes from the evaluation data). `rand` is a seeded generator: the same tokens every run.
function rand(seed: number): (n: number, alphabet?: string) => string {
  const next = mulberry32(seed);
  return (n, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789') => {
    let out = '';
    for (let i = 0; i < n; i++) out += alphabet[Math.floor(next() * alphabet.length)];
    return out;
  };
}
const r = rand(42);
const HEXA = '0123456789abcdef';

const OPENAI = 'sk-' + 'proj-' + 'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z';
const ANTHROPIC = 'sk-ant-' + 'api03-' + 'Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe';
const AWS = 'AKIA' + 'ZR4TQW7ML2XN5HVB';
const GITHUB = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const SLACK = 'xoxb-' + '1234567890-0987654321-AbCdEfGhIjKl';
const GOOGLE = 'AIza' + 'SyD4x9-Qm2Lk8Jh7Gf6Ds5Aa4Zx3Cv2Bn1M';
const JWT = 'eyJhbGciOiJIUzI1NiJ9' + '.eyJzdWIiOiIxMjM0NTY3ODkwIn0' + '.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

describe('detectSecrets: provider formats', () => {
  it('finds provider tokens by prefix', () => {
    expect(found(`key ${OPENAI}`)).toEqual([`openai_api_key:${OPENAI}`]);
    expect(found(`key ${ANTHROPIC}`)).toEqual([`anthropic_api_key:${ANTHROPIC}`]);
    expect(found(`aws ${AWS}`)).toEqual([`aws_access_key_id:${AWS}`]);
    expect(found(`gh ${GITHUB}`)).toEqual([`github_token:${GITHUB}`]);
    expect(found(`slack ${SLACK}`)).toEqual([`slack_token:${SLACK}`]);
    expect(found(`g ${GOOGLE}`)).toEqual([`google_api_key:${GOOGLE}`]);
    expect(found(`t ${JWT}`)).toEqual([`jwt:${JWT}`]);
  });

  it('finds Stripe secret, restricted, publishable and webhook keys, live and test', () => {
    for (const kind of ['sk', 'rk', 'pk']) {
      for (const mode of ['live', 'test']) {
        const key = `${kind}_${mode}_` + r(24);
        expect(found(`stripe ${key} end`)).toEqual([`stripe_key:${key}`]);
      }
    }
    const whsec = 'whsec_' + r(32);
    expect(found(`STRIPE_WEBHOOK_SECRET=${whsec}`)).toEqual([`stripe_webhook_secret:${whsec}`]);
    // Too short after the prefix, or an unknown mode: not a key.
    expect(found('use sk_live_ABC or sk_prod_abc123def456')).toEqual([]);
  });

  it('finds Slack bot, user and app tokens and webhook URLs', () => {
    const user = 'xoxp-' + r(11, '0123456789') + '-' + r(11, '0123456789') + '-' + r(12, '0123456789') + '-' + r(32, HEXA);
    const app = 'xapp-1-' + r(11) + '-' + r(13, '0123456789') + '-' + r(64, HEXA);
    const hook = 'https://hooks.slack.com/services/T' + r(8) + '/B' + r(8) + '/' + r(24);
    expect(found(`u ${user}`)).toEqual([`slack_token:${user}`]);
    expect(found(`a ${app}`)).toEqual([`slack_token:${app}`]);
    expect(found(`post to ${hook} now`)).toEqual([`slack_webhook:${hook}`]);
    expect(found('see https://hooks.slack.com/services for docs')).toEqual([]);
  });

  it('finds other provider formats', () => {
    const cases: [string, string][] = [
      ['gitlab_token', 'glpat-' + r(20)],
      ['npm_token', 'npm_' + r(36)],
      ['huggingface_token', 'hf_' + r(34)],
      ['sendgrid_key', 'SG.' + r(22) + '.' + r(43)],
      ['digitalocean_token', 'dop_v1_' + r(64, HEXA)],
      ['shopify_token', 'shpat_' + r(32, HEXA)],
      ['mailgun_api_key', 'key-' + r(32, HEXA)],
      ['mailchimp_api_key', r(32, HEXA) + '-us14'],
      ['twilio_api_key', 'SK' + r(32, HEXA)],
      ['docker_hub_token', 'dckr_pat_' + r(27)],
      ['rubygems_api_key', 'rubygems_' + r(48, HEXA)],
      ['databricks_token', 'dapi' + r(32, HEXA)],
      ['telegram_bot_token', r(10, '123456789') + ':AA' + r(33)],
      ['postman_api_key', 'PMAK-' + r(24, HEXA) + '-' + r(34, HEXA)],
    ];
    for (const [type, token] of cases) expect(found(`value ${token} end`)).toEqual([`${type}:${token}`]);
  });

  it('finds PEM private key blocks and password hashes', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----';
    expect(found(`key:\n${pem}\n`)).toEqual([`private_key:${pem}`]);
    const bcrypt = '$2b$12$' + r(53, './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');
    const sha512 = '$6$' + r(8) + '$' + r(86, './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');
    expect(found(`root:${sha512}:19000:0:99999:7:::`)).toEqual([`password_hash:${sha512}`]);
    expect(found(`hash ${bcrypt}`)).toEqual([`password_hash:${bcrypt}`]);
    // A cost factor in prose is not a hash.
    expect(found('bcrypt hashes start with $2b$12$ and a salt')).toEqual([]);
  });
});

describe('detectSecrets: connection strings and credential slots', () => {
  it('cuts the password of database and broker URLs', () => {
    const pw = 'pw' + r(10);
    for (const scheme of ['postgres', 'postgresql', 'mysql', 'mongodb', 'mongodb+srv', 'amqp', 'amqps']) {
      expect(found(`${scheme}://app:${pw}@db.internal:5432/x`)).toEqual([`url_credentials:${pw}`]);
    }
    // Redis URLs often have a password and no user.
    expect(found(`redis://:${pw}@cache:6379/0`)).toEqual([`url_credentials:${pw}`]);
    // A doc-style literal in the password slot still counts: the slot is unambiguous.
    expect(found('postgresql://user:secret@localhost/db')).toEqual(['url_credentials:secret']);
  });

  it('skips template placeholders in the password slot', () => {
    expect(found('postgres://app:${DB_PASSWORD}@db/x')).toEqual([]);
    expect(found('mysql://root:<password>@localhost/db')).toEqual([]);
    expect(found('amqp://guest:***@rabbit/')).toEqual([]);
    expect(found('https://example.com:8080/path@v2')).toEqual([]);
  });

  it('finds JDBC and ADO.NET/ODBC passwords', () => {
    expect(found('jdbc:postgresql://db:5432/app?user=svc&password=Tr0ub4dor&ssl=true')).toEqual(['connection_string_password:Tr0ub4dor']);
    expect(found('jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=Kx9!mQ2z;')).toEqual(['connection_string_password:Kx9!mQ2z']);
    expect(found('jdbc:oracle:thin:scott/T1ger99@dbhost:1521:orcl')).toEqual(['connection_string_password:T1ger99']);
    expect(found('Server=tcp:db.example.net,1433;Database=app;User Id=svc;Password=Qw3rty!9;Encrypt=True;')).toEqual(['connection_string_password:Qw3rty!9']);
    expect(found('Driver={ODBC Driver 18};Server=db;Uid=svc;Pwd=Zx8cV7bN;')).toEqual(['connection_string_password:Zx8cV7bN']);
    // "Password=" outside a connection string (no Server/Database/User Id keys) is left to the named-value rules.
    expect(found('Password=; Remember=true')).toEqual([]);
  });

  it('finds passwords on command lines, in netrc and in credential constructors', () => {
    expect(found('psexec \\\\host -u admin -p Hunter22 cmd')).toEqual(['cli_password:Hunter22']);
    expect(found('Connect-VIServer -Server vc01 -User admin -Password S3cure!pw')).toEqual(['cli_password:S3cure!pw']);
    expect(found('curl -u deploy:Xy7zQ2wR https://api.example.com')).toEqual(['cli_password:Xy7zQ2wR']);
    expect(found('machine api.example.com login bob password b0bsPass')).toEqual(['netrc_password:b0bsPass']);
    expect(found('new NetworkCredential("svc", "N3tCred!")')).toEqual(['dotnet_credentials:N3tCred!']);
    // -p is a port or a flag elsewhere; variables are not literals.
    expect(found('mkdir -p /var/lib/app && ssh -p 2222 host')).toEqual([]);
    expect(found('psexec \\\\host -u admin -p $Password cmd')).toEqual([]);
  });
});

describe('detectSecrets: named values', () => {
  it('keeps the label readable and cuts only the value', () => {
    expect(found('Authorization: Bearer abc123DEF456ghi789JKL')).toEqual(['bearer_token:abc123DEF456ghi789JKL']);
    expect(found('db password="hunter2!x"')).toEqual(['password:hunter2!x']);
    expect(found('client_secret: "p8e-ibndcvsmAp9ZgPBZ606FSlYIZVlsZ-g5"')).toEqual(['adobe_client_secret:p8e-ibndcvsmAp9ZgPBZ606FSlYIZVlsZ-g5']);
  });

  it('understands camelCase, ALL_CAPS env files, JSON keys and env() defaults', () => {
    const t = r(32);
    expect(found(`const twilioApiSecret = '${t}';`)).toEqual([`generic_secret:${t}`]);
    expect(found(`export SERVICE_API_TOKEN=${t}`)).toEqual([`generic_secret:${t}`]);
    expect(found(`{"apikey": "${t}"}`)).toEqual([`generic_secret:${t}`]);
    expect(found(`'token' => env('SERVICE_TOKEN', '${t}'),`)).toEqual([`generic_secret:${t}`]);
    expect(found('REACT_APP_AUTH_PASSWORD=moonage7')).toEqual(['password:moonage7']);
    expect(found('the default password is "daydream"')).toEqual(['password:daydream']);
  });

  it('ignores placeholders, variable names, expressions and low-entropy values', () => {
    expect(found('password = request.form')).toEqual([]);
    expect(found('password: str')).toEqual([]);
    expect(found('api_key = "your_api_key_here"')).toEqual([]);
    expect(found('token = ${GITHUB_TOKEN}')).toEqual([]);
    expect(found('secret_key = "aaaaaaaaaaaaaaaaaaaa"')).toEqual([]);
    expect(found('the password is required and the token expired')).toEqual([]);
    expect(found('password = getpass.getpass()\npwd = os.environ["DB_PASSWORD"]')).toEqual([]);
    expect(found('"password": "&lt;YOUR PASSWORD&gt;", passwordLabel: "Password:"')).toEqual([]);
    expect(found('token = "abcdefgh12345678"')).toEqual([]);
  });

  it('does not treat ids, public keys, counts or look-alike words as secrets', () => {
    const t = r(32);
    // A client id is an identifier, not a credential.
    expect(credentials(`client_id = "${t}"`)).toEqual([]);
    expect(identifiers(`client_id = "${t}"`)).toEqual([`oauth_client_id:${t}`]);
    expect(found(`public_key = "${t}"`)).toEqual([]);
    expect(found('max_tokens: 4096, prompt_tokens=1234')).toEqual([]);
    // "key" inside "monkey" is not a name keyword (and a 20-char value is too short to flag on its own).
    expect(tokenLike(t.slice(0, 20))).toBe(true);
    expect(found(`monkey = "${t.slice(0, 20)}"`)).toEqual([]);
    expect(found('passport_number = "X12345678"')).toEqual([]);
    expect(found('idempotency_key: "3f2b8c1e-9d4a-4b6f-8e2d-1a7c5b9e0f3d"')).toEqual([]);
  });

  it('accepts a UUID under a token name but not a bare UUID', () => {
    const uuid = '5c0f2d8e-3b1a-4e6f-9d7c-2a8b4e6f1c3d';
    expect(found(`HEROKU_API_KEY: ${uuid}`)).toEqual([`generic_secret:${uuid}`]);
    expect(found(`request ${uuid} failed`)).toEqual([]);
  });
});

describe('detectSecrets: generic high-entropy tokens', () => {
  it('finds a long random token after a credential word on its line or the line above', () => {
    const t = r(40);
    expect(randomToken(t, ` ${t} `, 1)).toBe(true);
    expect(found(`the session cookie is ${t}`)).toEqual([`high_entropy_token:${t}`]);
    expect(found(`Use this one for auth\n  ${t}`)).toEqual([`high_entropy_token:${t}`]);
  });

  it('does not flag a random-looking token without a credential word near it', () => {
    const t = r(40);
    expect(found(`here you go: ${t}`)).toEqual([]);
    expect(found(t)).toEqual([]);
    expect(found(`${r(11)}.${t}`)).toEqual([]);
    expect(found(`the session cookie was set\n\nopaque handle\n${t}`)).toEqual([]);
  });

  it('does not flag UUIDs, hex hashes, SRI/lockfile digests or identifiers', () => {
    expect(found('request 3f2b8c1e-9d4a-4b6f-8e2d-1a7c5b9e0f3d failed')).toEqual([]);
    expect(found(`fixed in commit ${r(40, HEXA)} and image sha256:${r(64, HEXA)}`)).toEqual([]);
    expect(found(`<script integrity="sha384-${r(64)}"></script>`)).toEqual([]);
    expect(found(`golang.org/x/text v0.3.7 h1:${r(43)}=`)).toEqual([]);
    expect(found('call getServerAddressByClientCIDRs2024VersionHandler3 now')).toEqual([]);
    expect(found('at com.example.service.UserAccountRepositoryImpl2.findByEmail3(Repo.java:42)')).toEqual([]);
  });

  it('does not flag base64 images, base64 text, certificate blocks or URL paths', () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg';
    expect(found(`<img src="data:image/png;base64,${png}">`)).toEqual([]);
    expect(found(`"thumbnail": "${png}"`)).toEqual([]);
    const text = Buffer.from('Please summarise the attached quarterly report for the board').toString('base64');
    expect(found(`payload ${text}`)).toEqual([]);
    const cert = ['-----BEGIN CERTIFICATE-----', r(64), r(64), r(64), '-----END CERTIFICATE-----'].join('\n');
    expect(found(cert)).toEqual([]);
    expect(found(`https://drive.example.com/file/d/${r(44)}/view`)).toEqual([]);
  });

  it('tokenLike needs length, digits, entropy and no made-up runs', () => {
    expect(tokenLike(r(24))).toBe(true);
    expect(tokenLike('short1A')).toBe(false);
    expect(tokenLike('a1B2c3D4e5F6g7H8i9J0k1L2')).toBe(false);
    expect(tokenLike('ConnectionString_B2B')).toBe(false);
    expect(tokenLike('3f2b8c1e-9d4a-4b6f-8e2d-1a7c5b9e0f3d')).toBe(false);
    expect(tokenLike('3f2b8c1e-9d4a-4b6f-8e2d-1a7c5b9e0f3d', true)).toBe(true);
  });
});

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

describe('detectSecrets: provider formats without a prefix', () => {
  it('finds AWS secret access keys by name, in aws configure output and after an access key id', () => {
    const secret = r(40, B64);
    const keyId = 'AKIA' + r(16, BASE32);
    expect(found(`export AWS_SECRET_ACCESS_KEY=${secret}`)).toEqual([`aws_secret_access_key:${secret}`]);
    expect(found(`aws_secret_key => "${secret}"`)).toEqual([`aws_secret_access_key:${secret}`]);
    expect(found(`{"AccessKeyId": "${keyId}", "SecretAccessKey": "${secret}"}`)).toEqual([`aws_access_key_id:${keyId}`, `aws_secret_access_key:${secret}`]);
    expect(found(`AWS Secret Access Key [****************${r(4, 'ABCDEFGH')}]: ${secret}`)).toEqual([`aws_secret_access_key:${secret}`]);
    expect(found(`keys: ${keyId} / ${secret}`)).toEqual([`aws_access_key_id:${keyId}`, `aws_secret_access_key:${secret}`]);
    // One repeated character is a placeholder, not a key.
    expect(found(`aws_secret_access_key: ${'a'.repeat(40)}`)).toEqual([]);
  });

  it('finds Okta API tokens ("00" + 40 characters) under an Okta name and after SSWS', () => {
    const token = '00' + r(40, B64URL);
    expect(found(`okta_api_token = ${token}`)).toEqual([`okta_api_token:${token}`]);
    expect(found(`OKTA_CLIENT_TOKEN: "${token}"`)).toEqual([`okta_api_token:${token}`]);
    expect(found(`Authorization: SSWS ${token}`)).toEqual([`okta_api_token:${token}`]);
    expect(found(`okta_api_token = 00${'x'.repeat(40)}`)).toEqual([]);
    expect(found(`okta_api_token = 00-${'a'.repeat(15)}-${'a'.repeat(23)}`)).toEqual([]);
  });

  it('does not take a hand-typed Okta value with an alphabet or digit sequence under an Okta name', () => {
    const q = rand(1001);
    const typed = '00' + q(12, B64URL) + '-ABCDEFGHIJ-' + q(17, B64URL);
    expect(found(`okta_api_token = ${typed}`)).toEqual([]);
    expect(found(`OKTA_TOKEN: 00${q(14, B64URL)}1234567890${q(16, B64URL)}`)).toEqual([]);
    const token = '00' + q(40, B64URL);
    expect(found(`okta_api_token = ${token}`)).toEqual([`okta_api_token:${token}`]);
  });

  it("skips AWS's published documentation keys (…EXAMPLE / …EXAMPLEKEY) in every layer", () => {
    const docId = 'AKIA' + 'IOSFODNN7' + 'EXAMPLE';
    const docSecret = 'wJalrXUtnFEMI/K7MDENG/' + 'bPxRfiCY' + 'EXAMPLEKEY';
    expect(found(`aws ${docId}`)).toEqual([]);
    expect(found(`[default]\naws_access_key_id = ${docId}\naws_secret_access_key = ${docSecret}`)).toEqual([]);
    expect(found(`{"AccessKeyId": "${docId}", "SecretAccessKey": "${docSecret}"}`)).toEqual([]);
    expect(found(`api_token: ${docSecret}`)).toEqual([]);
    // Same shape, not the documentation suffix: a key.
    const q = rand(1002);
    const keyId = 'AKIA' + q(16, BASE32);
    const secret = q(40, B64);
    expect(found(`aws_access_key_id = ${keyId}\naws_secret_access_key = ${secret}`)).toEqual([`aws_access_key_id:${keyId}`, `aws_secret_access_key:${secret}`]);
  });
});

describe('detectSecrets: tool and build-file credentials', () => {
  it('finds a literal password in a Gradle credentials block (Groovy and Kotlin DSL) and gradle.properties', () => {
    const pw = 'Gr4' + r(8);
    expect(found(`maven {\n  credentials {\n    username 'deployer'\n    password '${pw}'\n  }\n}`)).toEqual([`gradle_credentials:${pw}`]);
    expect(found(`credentials {\n  username = "deployer"\n  password = "${pw}"\n}`)).toEqual([`gradle_credentials:${pw}`]);
    expect(found(`systemProp.gradle.wrapperPassword=${pw}`)).toEqual([`password:${pw}`]);
  });

  it('takes any literal in a Gradle credentials block (a slot), even a weak one, but not interpolation', () => {
    // A repository login: whatever string stands there is the password, however guessable.
    for (const v of ['admin123', 'changeme', 'DEPLOY_PASS', "pa$$w0rd"]) {
      expect(found(`credentials {\n  username 'deployer'\n  password '${v}'\n}`)).toEqual([`gradle_credentials:${v}`]);
    }
    // Groovy/Kotlin "$x" and "${x}" are expressions; xxx, <...> and *** are template syntax.
    for (const v of ['"$repoPassword"', '"${repoPassword}"', '"pre${suffix}"', '"xxxx"', "'<password>'", "'****'"]) {
      expect(found(`credentials {\n  username "deployer"\n  password ${v}\n}`)).toEqual([]);
    }
    expect(found('credentials {\n  username = System.getenv("REPO_USER")\n  password = providers.gradleProperty("repoPassword").get()\n}')).toEqual([]);
  });

  it('takes the literal assigned to a PHPMailer / SwiftMailer SMTP password, not a variable', () => {
    const q = rand(1003);
    const pw = 'Sm' + q(8);
    expect(found(`$mail->Host = 'smtp.example.org';\n$mail->Password   = '${pw}';`)).toEqual([`password:${pw}`]);
    expect(found(`$transport->setPassword("${pw}");`)).toEqual([`password:${pw}`]);
    expect(found("$mail->Password = 'changeme';")).toEqual(['password:changeme']);
    for (const t of ["$mail->Password = $config['smtp_pass'];", '$mail->Password = "$smtpPass";', "$mail->Password = getenv('SMTP_PASS');", "$mail->Password = '';"]) {
      expect(found(t)).toEqual([]);
    }
  });

  it('takes literal XML password elements (Maven settings.xml, Hibernate properties), not templates', () => {
    const q = rand(1004);
    const pw = 'Mv' + q(10);
    expect(found(`<server>\n  <id>internal</id>\n  <username>deployer</username>\n  <password>${pw}</password>\n</server>`)).toEqual([`password:${pw}`]);
    expect(found(`<property name="hibernate.connection.password">${pw}</property>`)).toEqual([`password:${pw}`]);
    expect(found(`<keyStorePassword>${pw}</keyStorePassword>`)).toEqual([`password:${pw}`]);
    expect(found(`<wsse:Password>${pw}</wsse:Password>`)).toEqual([`password:${pw}`]);
    // Maven property references, Maven's {…} encrypted form, empty elements and other elements are not passwords.
    for (const t of ['<password>${env.REPO_PASSWORD}</password>', `<password>{${q(20, B64)}=}</password>`, '<password></password>', '<passwordPolicy>strict</passwordPolicy>',
      '<resetPassword>Reset your password</resetPassword>', '<string name="password">Password</string>']) {
      expect(found(t)).toEqual([]);
    }
  });

  it('takes the plain-text literal given to PowerShell ConvertTo-SecureString, not a variable', () => {
    const q = rand(1005);
    const pw = 'Ss' + q(10);
    expect(found(`$sec = ConvertTo-SecureString '${pw}' -AsPlainText -Force`)).toEqual([`password:${pw}`]);
    expect(found(`ConvertTo-SecureString -String "${pw}" -AsPlainText -Force`)).toEqual([`password:${pw}`]);
    for (const t of ['ConvertTo-SecureString $env:SVC_PASS -AsPlainText -Force', 'ConvertTo-SecureString "$plain" -AsPlainText -Force', '$secure = Read-Host -AsSecureString | ConvertTo-SecureString']) {
      expect(found(t)).toEqual([]);
    }
  });

  it('finds literal passwords given to PsExec, Connect-VIServer and ODBC, but not variables', () => {
    const pw = 'Ps' + r(8);
    expect(found(`PsExec.exe \\\\srv01 -u CORP\\svc -p ${pw} cmd`)).toEqual([`cli_password:${pw}`]);
    expect(found(`Connect-VIServer vc01.lab.local -User admin@vsphere.local -Password '${pw}'`)).toEqual([`cli_password:${pw}`]);
    expect(found(`Driver={SQL Server};Server=db01;Database=app;Uid=svc;Pwd=${pw};`)).toEqual([`connection_string_password:${pw}`]);
    expect(found('psexec \\\\srv01 -u admin -p %ADMIN_PW% -i cmd')).toEqual([]);
    expect(found('Connect-VIServer $vc -User $user -Password $pass')).toEqual([]);
    expect(found('Connect-VIServer "$vc" -User "$user" -Password "$pass" | Out-Null')).toEqual([]);
    expect(found("\"driver={SQL Server};server=#{host};uid=#{user};pwd=#{opts['pass']}\"")).toEqual([]);
  });

  it('takes names whose last word only ends like a deny word (ADMIN_, REDIS_, AdminPassword)', () => {
    const pw = 'Pw' + r(8);
    expect(found(`ADMIN_PASSWORD=${pw}`)).toEqual([`password:${pw}`]);
    expect(found(`REDIS_PASSWORD=${pw}`)).toEqual([`password:${pw}`]);
    expect(found(`"AdminPassword" : "${pw}"`)).toEqual([`password:${pw}`]);
    expect(found(`showPassword = "${pw}"\nmax_password: ${pw}\nFORGOT_PASSWORD=${pw}`)).toEqual([]);
  });

  it('does not count the password of an anonymous login', () => {
    expect(found('ftp://anonymous:guest@ftp.example.org/pub')).toEqual([]);
    expect(found('machine ftp.example.org login anonymous password me@example.org')).toEqual([]);
    expect(found('conn->user = "anonymous";\nconn->password = "ftp-client@";')).toEqual([]);
    const pw = 'Ft' + r(8);
    expect(found(`ftp://bob:${pw}@ftp.example.org/pub`)).toEqual([`url_credentials:${pw}`]);
  });
});

describe('detectSecrets: identifiers', () => {
  const account = r(12, '0123456789').replace(/^0/, '4');

  it('reports ARNs and AWS account ids as identifiers', () => {
    const arn = `arn:aws:lambda:eu-west-1:${account}:function:resize-${r(4, 'abcdefgh')}`;
    expect(detectSecrets(`calls ${arn}.`).map((m) => m.kind)).toEqual(['identifier']);
    expect(identifiers(`calls ${arn}.`)).toEqual([`aws_arn:${arn}`]);
    expect(identifiers('"Resource": "arn:aws:s3:::team-reports/*"')).toEqual(['aws_arn:arn:aws:s3:::team-reports/*']);
    expect(identifiers(`aws_account_id=${account}`)).toEqual([`aws_account_id:${account}`]);
    expect(identifiers(`"AWSAccountId": "${account}"`)).toEqual([`aws_account_id:${account}`]);
    // AWS-managed policies are the same public name in every account; a bare 12-digit number is no account id.
    expect(found('attach arn:aws:iam::aws:policy/ReadOnlyAccess')).toEqual([]);
    expect(found(`order ${account} shipped`)).toEqual([]);
  });

  it('reports S3 and GCS bucket names from hosts, paths and URIs', () => {
    expect(identifiers('https://team-reports.s3.eu-west-1.amazonaws.com/q3.csv')).toEqual(['s3_bucket:team-reports']);
    expect(identifiers('https://s3-us-west-2.amazonaws.com/team-reports/q3.csv')).toEqual(['s3_bucket:team-reports']);
    expect(identifiers('aws s3 sync s3://team-reports/2024/ .')).toEqual(['s3_bucket:team-reports']);
    expect(identifiers('https://ml-artifacts.storage.googleapis.com/model.bin')).toEqual(['gcs_bucket:ml-artifacts']);
    expect(identifiers('https://storage.googleapis.com/ml-artifacts/model.bin')).toEqual(['gcs_bucket:ml-artifacts']);
    expect(identifiers('gsutil ls gs://ml-artifacts/v2')).toEqual(['gcs_bucket:ml-artifacts']);
    // No bucket named: the service hosts, the S3 XML namespace, GCS JSON API paths, the CNAME target, templates.
    for (const t of ['s3.amazonaws.com', '.s3.amazonaws.com', 'https://s3.amazonaws.com/', '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
      'https://storage.googleapis.com', 'https://storage.googleapis.com/storage/v1/b/x/o', 'CNAME c.storage.googleapis.com', 's3://${BUCKET}/key', 'gs://{bucket}/x']) {
      expect(found(t)).toEqual([]);
    }
  });

  it('does not report buckets named under a documentation domain (RFC 2606 / 6761)', () => {
    for (const t of ['https://assets.example.com.storage.googleapis.com/logo.png', 'gsutil cp x gs://media.example.org/x', 'aws s3 ls s3://logs.staging.test/',
      'https://s3.amazonaws.com/files.example/a.txt', 'https://backups.example.net.s3.amazonaws.com/db.gz']) {
      expect(found(t)).toEqual([]);
    }
    // A look-alike that is not reserved is a real domain.
    expect(identifiers('https://assets.example-corp.com.storage.googleapis.com/logo.png')).toEqual(['gcs_bucket:assets.example-corp.com']);
    expect(identifiers('aws s3 ls s3://logs.testing-team/')).toEqual(['s3_bucket:logs.testing-team']);
  });

  it('reports Shopify store domains, OAuth client ids, env-file usernames and age recipients', () => {
    expect(identifiers('https://acme-outdoor.myshopify.com/admin')).toEqual(['shopify_domain:acme-outdoor']);
    const google = `${r(12, '0123456789')}-${r(32, 'abcdefghijklmnopqrstuvwxyz0123456789')}.apps.googleusercontent.com`;
    expect(identifiers(`clientId: '${google}'`)).toEqual([`oauth_client_id:${google}`]);
    const gh = 'Iv1.' + r(16, HEXA);
    expect(identifiers(`GITHUB_APP_CLIENT=${gh}`)).toEqual([`oauth_client_id:${gh}`]);
    const tw = r(20);
    expect(identifiers(`TWITTER_ID: "${tw}"`)).toEqual([`oauth_client_id:${tw}`]);
    expect(identifiers('REACT_APP_AUTH_USERNAME=ziggy # login')).toEqual(['username:ziggy']);
    expect(identifiers('# DB_USER=app_rw')).toEqual(['username:app_rw']);
    const age = 'age1' + r(58, '023456789acdefghjklmnpqrstuvwxyz');
    expect(identifiers(`recipient: ${age}`)).toEqual([`age_recipient:${age}`]);
  });

  it('does not report placeholders, variables or expressions as identifiers', () => {
    expect(found('client_id = config.oauth.client_id\n"client_id": "my-app"\nCLIENT_ID=${CLIENT_ID}')).toEqual([]);
    expect(found('REACT_APP_FORGOT_USERNAME=$REACT_APP_BASE_URL/#/forgot\nMAX_USER=100\nDB_USER=<user>')).toEqual([]);
  });

  it('never gives a credential span to an identifier', () => {
    const pw = 'Db' + r(8);
    const text = `DB_USER=app_rw\nDB_PASSWORD=${pw}\nBUCKET_URL=s3://team-reports`;
    expect(detectSecrets(text).map((m) => `${m.kind}:${m.type}:${text.slice(m.start, m.end)}`)).toEqual([
      `credential:password:${pw}`, 'identifier:s3_bucket:team-reports', 'identifier:username:app_rw',
    ]);
  });
});
