import { describe, expect, it } from '@jest/globals';
import { detectSecrets } from './secrets.detector';

const found = (text: string): string[] => detectSecrets(text).map((m) => `${m.type}:${text.slice(m.start, m.end)}`);

// Test fixtures are assembled at runtime so no secret-looking literal sits in the source.
const OPENAI = 'sk-' + 'proj-' + 'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z';
const ANTHROPIC = 'sk-ant-' + 'api03-' + 'Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe';
const AWS = 'AKIA' + 'IOSFODNN7EXAMPLE';
const GITHUB = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const SLACK = 'xoxb-' + '1234567890-0987654321-AbCdEfGhIjKl';
const GOOGLE = 'AIza' + 'SyD4x9-Qm2Lk8Jh7Gf6Ds5Aa4Zx3Cv2Bn1M';
const JWT = 'eyJhbGciOiJIUzI1NiJ9' + '.eyJzdWIiOiIxMjM0NTY3ODkwIn0' + '.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

describe('detectSecrets', () => {
  it('finds provider tokens by prefix', () => {
    expect(found(`key ${OPENAI}`)).toEqual([`openai_api_key:${OPENAI}`]);
    expect(found(`key ${ANTHROPIC}`)).toEqual([`anthropic_api_key:${ANTHROPIC}`]);
    expect(found(`aws ${AWS}`)).toEqual([`aws_access_key_id:${AWS}`]);
    expect(found(`gh ${GITHUB}`)).toEqual([`github_token:${GITHUB}`]);
    expect(found(`slack ${SLACK}`)).toEqual([`slack_token:${SLACK}`]);
    expect(found(`g ${GOOGLE}`)).toEqual([`google_api_key:${GOOGLE}`]);
    expect(found(`t ${JWT}`)).toEqual([`jwt:${JWT}`]);
  });

  it('keeps the label readable and cuts only the value for bearer tokens and assignments', () => {
    expect(found('Authorization: Bearer abc123DEF456ghi789JKL')).toEqual(['bearer_token:abc123DEF456ghi789JKL']);
    expect(found('db password="hunter2!x"')).toEqual(['password:hunter2!x']);
    expect(found('client_secret: "p8e-ibndcvsmAp9ZgPBZ606FSlYIZVlsZ-g5"')).toEqual(['generic_secret:p8e-ibndcvsmAp9ZgPBZ606FSlYIZVlsZ-g5']);
    expect(found('postgres://app:s3cretPw@db.internal:5432/x')).toEqual(['url_credentials:s3cretPw']);
  });

  it('finds PEM private key blocks', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----';
    expect(found(`key:\n${pem}\n`)).toEqual([`private_key:${pem}`]);
  });

  it('ignores placeholders, variable names and low-entropy values', () => {
    expect(found('password = request.form')).toEqual([]);
    expect(found('password: str')).toEqual([]);
    expect(found('api_key = "your_api_key_here"')).toEqual([]);
    expect(found('token = ${GITHUB_TOKEN}')).toEqual([]);
    expect(found('secret_key = "aaaaaaaaaaaaaaaaaaaa"')).toEqual([]);
    expect(found('the password is required and the token expired')).toEqual([]);
  });
});
