import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, errorFromResponse, KeelClient, networkReason, retryAfterMs } from './api';

describe('API error mapping', () => {
  it('keeps the server error code and message', () => {
    const e = errorFromResponse(404, '{"error":{"code":"not_found","message":"task x not found"}}');
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ code: 'not_found', message: 'task x not found', status: 404 });
  });

  it('falls back to the HTTP status for bodies that are not Keel errors', () => {
    expect(errorFromResponse(502, '<html>Bad gateway</html>')).toMatchObject({ code: 'http_502', message: '<html>Bad gateway</html>' });
    expect(errorFromResponse(500, '')).toMatchObject({ code: 'http_500', message: 'HTTP 500' });
    expect(errorFromResponse(400, '{"error":"flat"}')).toMatchObject({ code: 'http_400' });
  });

  it('names the network cause, spelling out connection refused', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(networkReason(refused)).toBe('connection refused, ECONNREFUSED');
    expect(networkReason(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } }))).toBe('ENOTFOUND');
    expect(networkReason(new TypeError('fetch failed', { cause: new Error('bad port') }))).toBe('bad port');
  });
});

describe('rate limits', () => {
  it('reads Retry-After as seconds or a date, capped, with up to 25 % jitter', () => {
    expect(retryAfterMs('2', 0, () => 0)).toBe(2_000);
    expect(retryAfterMs('2', 0, () => 1)).toBe(2_500);
    expect(retryAfterMs(null, 0, () => 0)).toBe(1_000);
    expect(retryAfterMs('3600', 0, () => 0)).toBe(10_000);
    expect(retryAfterMs(new Date(5_000).toUTCString(), 2_000, () => 0)).toBe(3_000);
  });

  it('sends a rate-limited request again after Retry-After, and gives up after a few tries', async () => {
    let calls = 0;
    let limitFor = 2;
    const server = createServer((req, res) => {
      calls++;
      if (calls <= limitFor) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end('{"error":{"code":"rate_limited","message":"slow down"}}');
        return;
      }
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"id":"t1","status":"queued"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new KeelClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: 'k', natsUrl: 'nats://x' });
    try {
      await expect(client.submit({ input: 'hi' })).resolves.toEqual({ id: 't1', status: 'queued' });
      expect(calls).toBe(3);
      calls = 0;
      limitFor = 100;
      await expect(client.submit({ input: 'hi' })).rejects.toMatchObject({ code: 'rate_limited', status: 429 });
      expect(calls).toBe(6);
    } finally {
      server.close();
    }
  });
});
