import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { ResolvedAddress } from './egress.policy';
import { MAX_RESPONSE_BYTES, httpRequestTool } from './http-request.tool';
import type { HttpRequestArgs, HttpResponseResult, LookupFn } from './http-request.tool';
import type { ToolContext } from './tool.definition';
import { keelFailure } from '@keel/testing';

/** Only names listed here resolve; anything else fails like a missing DNS name, so no test reaches the internet. */
function stubLookup(table: Record<string, string[]>): LookupFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://local');
  switch (url.pathname) {
    case '/echo':
      void readBody(req).then((body) => {
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.setHeader('set-cookie', 'session=secret');
        res.setHeader('x-internal-debug', 'hidden');
        res.setHeader('x-ratelimit-remaining', '41');
        res.end(JSON.stringify({ method: req.method, path: req.url, headers: req.headers, body }));
      });
      return;
    case '/redirect': {
      const status = Number(url.searchParams.get('status') ?? 302);
      res.writeHead(status, { location: url.searchParams.get('to') ?? '/echo' }).end();
      return;
    }
    case '/loop':
      res.writeHead(302, { location: '/loop' }).end();
      return;
    case '/status':
      res.writeHead(Number(url.searchParams.get('code')), { 'content-type': 'application/problem+json' })
        .end(JSON.stringify({ title: 'nope' }));
      return;
    case '/big': {
      const bytes = Number(url.searchParams.get('bytes'));
      res.writeHead(200, { 'content-type': url.searchParams.get('type') ?? 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      const pump = (): void => {
        while (sent < bytes) {
          const piece = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
          sent += piece.length;
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    case '/gzip': {
      const body = gzipSync(Buffer.alloc(Number(url.searchParams.get('bytes')), 'z'));
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }).end(body);
      return;
    }
    case '/binary':
      res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      return;
    case '/hang':
      return; // never answers
    case '/stall-body':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      return; // never ends
    case '/reset':
      req.socket.destroy();
      return;
    default:
      res.writeHead(404).end('no route');
  }
}

let a: { server: Server; port: number };
let b: { server: Server; port: number };
let closedPort: number;

beforeAll(async () => {
  a = await listen(route);
  b = await listen(route);
  const c = await listen(route);
  closedPort = c.port;
  await new Promise<void>((resolve) => c.server.close(() => resolve()));
});

afterAll(async () => {
  for (const s of [a.server, b.server]) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

const A = (): string => `http://127.0.0.1:${a.port}`;
const B = (): string => `http://127.0.0.1:${b.port}`;

function ctx(allow: readonly string[], overrides: Partial<ToolContext> = {}): ToolContext {
  return { idempotencyKey: 'task-1:3:0', allow, timeoutMs: 5_000, signal: new AbortController().signal, ...overrides };
}

const failure = keelFailure;

interface Echo {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

describe('http_request', () => {
  const lookup = stubLookup({ 'sink.test': ['127.0.0.1'], 'sneaky.example.com': ['127.0.0.1'], 'mixed.example.com': ['93.184.215.14', '127.0.0.1'] });
  const tool = httpRequestTool({ lookup });
  const call = (args: HttpRequestArgs, c: ToolContext): Promise<HttpResponseResult> =>
    tool.execute(args, c) as Promise<HttpResponseResult>;

  it('declares its permissions, risk and idempotency', () => {
    expect(tool).toMatchObject({ name: 'http_request', permission: 'destructive', defaultRisk: 'review', idempotency: 'idempotent_by_key' });
    expect(tool.permissionFor?.({ method: 'GET', url: 'https://a.com/' })).toBe('read');
    expect(tool.permissionFor?.({ method: 'HEAD', url: 'https://a.com/' })).toBe('read');
    expect(tool.permissionFor?.({ method: 'POST', url: 'https://a.com/' })).toBe('write');
    expect(tool.permissionFor?.({ method: 'DELETE', url: 'https://a.com/' })).toBe('destructive');
    expect(tool.permissionFor?.({ method: 'OPTIONS', url: 'https://a.com/' })).toBe('read');
  });

  it('sends the Idempotency-Key header and parses a JSON response', async () => {
    const res = await call({ method: 'GET', url: `${A()}/echo`, headers: { Accept: 'application/json' } }, ctx([`127.0.0.1:${a.port}`]));
    expect(res.status).toBe(200);
    expect(res.truncated).toBe(false);
    const echo = res.body as Echo;
    expect(echo.headers['idempotency-key']).toBe('task-1:3:0');
    expect(echo.headers.accept).toBe('application/json');
    expect(echo.headers['user-agent']).toMatch(/^keel-http-request/);
    expect(echo.method).toBe('GET');
  });

  it('returns only a safe subset of response headers', async () => {
    const res = await call({ method: 'GET', url: `${A()}/echo` }, ctx([`127.0.0.1:${a.port}`]));
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['x-ratelimit-remaining']).toBe('41');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['x-internal-debug']).toBeUndefined();
  });

  it('sends a JSON body as application/json', async () => {
    const res = await call({ method: 'POST', url: `${A()}/echo`, body: { a: 1 } }, ctx([`127.0.0.1:${a.port}`]));
    const echo = res.body as Echo;
    expect(echo.method).toBe('POST');
    expect(echo.headers['content-type']).toBe('application/json');
    expect(JSON.parse(echo.body)).toEqual({ a: 1 });
    expect(echo.headers['idempotency-key']).toBe('task-1:3:0');
  });

  it('returns 4xx and 5xx responses as results', async () => {
    const res = await call({ method: 'GET', url: `${A()}/status?code=404` }, ctx([`127.0.0.1:${a.port}`]));
    expect(res).toMatchObject({ status: 404, body: { title: 'nope' } });
    const res500 = await call({ method: 'GET', url: `${A()}/status?code=503` }, ctx([`127.0.0.1:${a.port}`]));
    expect(res500.status).toBe(503);
  });

  describe('egress', () => {
    it('denies everything with an empty allowlist, naming the entry needed', async () => {
      const err = await failure(call({ method: 'GET', url: `${A()}/echo` }, ctx([])));
      expect(err.code).toBe('egress_denied');
      expect(err.message).toContain(`"127.0.0.1:${a.port}"`);
    });

    it('denies loopback unless an entry names it exactly', async () => {
      const err = await failure(call({ method: 'GET', url: `${A()}/echo` }, ctx([`127.0.0.1:${a.port + 1}`, 'api.example.com'])));
      expect(err.code).toBe('egress_denied');
    });

    it('refuses a wildcard host that resolves to loopback (and connects nowhere)', async () => {
      const err = await failure(call({ method: 'GET', url: `http://sneaky.example.com:${a.port}/echo` }, ctx(['*.example.com'])));
      expect(err.code).toBe('egress_denied');
      expect(err.message).toContain('resolves to 127.0.0.1');
      expect(err.message).toContain('wildcard entries never unlock them');
    });

    it('refuses a host whose answers mix public and private addresses', async () => {
      const err = await failure(call({ method: 'GET', url: `http://mixed.example.com:${a.port}/echo` }, ctx(['*.example.com'])));
      expect(err.code).toBe('egress_denied');
    });

    it('connects to the checked address of an exactly allowed name, resolving it once', async () => {
      lookup.calls.length = 0;
      const res = await call({ method: 'GET', url: `http://sink.test:${a.port}/echo` }, ctx([`sink.test:${a.port}`]));
      expect(res.status).toBe(200);
      expect((res.body as Echo).headers.host).toBe(`sink.test:${a.port}`);
      expect(lookup.calls).toEqual(['sink.test']);
    });

    it('refuses metadata and unspecified literals reached through a wildcard', async () => {
      for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://0.0.0.0/', 'http://[::ffff:127.0.0.1]/', 'http://100.64.0.1/']) {
        const err = await failure(call({ method: 'GET', url }, ctx(['*.example.com'])));
        expect(err.code).toBe('egress_denied');
      }
    });

    it('reports an unresolvable name as a tool_error', async () => {
      const err = await failure(call({ method: 'GET', url: 'http://nowhere.example.com/' }, ctx(['*.example.com'])));
      expect(err.code).toBe('tool_error');
      expect(err.message).toContain('could not resolve host nowhere.example.com');
      expect(err.retryable).toBe(false);
    });
  });

  describe('redirects', () => {
    it('follows allowed redirects and reports where it ended', async () => {
      const res = await call({ method: 'GET', url: `${A()}/redirect?to=/echo` }, ctx([`127.0.0.1:${a.port}`]));
      expect(res.status).toBe(200);
      expect(res.redirects).toBe(1);
      expect(res.url).toBe(`${A()}/echo`);
      expect((res.body as Echo).headers['idempotency-key']).toBe('task-1:3:0');
    });

    it('refuses a redirect to a host that is not allowed', async () => {
      const to = encodeURIComponent('http://evil.example.net/steal');
      const err = await failure(call({ method: 'GET', url: `${A()}/redirect?to=${to}` }, ctx([`127.0.0.1:${a.port}`])));
      expect(err.code).toBe('egress_denied');
      expect(err.message).toContain('evil.example.net');
    });

    it('refuses a redirect to loopback when only a public host is allowed', async () => {
      // The first hop is the test server; the redirect targets loopback by other means.
      const allow = [`127.0.0.1:${a.port}`, 'api.example.com', '*.example.com'];
      for (const target of [
        `${B()}/echo`, // loopback on a port no entry names
        `http://localhost:${a.port}/echo`,
        `http://[::ffff:127.0.0.1]:${a.port}/echo`,
        `http://sneaky.example.com:${a.port}/echo`, // wildcard name resolving to 127.0.0.1
        'http://169.254.169.254/latest/meta-data/',
      ]) {
        const err = await failure(call({ method: 'GET', url: `${A()}/redirect?to=${encodeURIComponent(target)}` }, ctx(allow)));
        expect(err.code).toBe('egress_denied');
      }
    });

    it('refuses a redirect to another scheme', async () => {
      const err = await failure(call({ method: 'GET', url: `${A()}/redirect?to=${encodeURIComponent('file:///etc/passwd')}` }, ctx([`127.0.0.1:${a.port}`])));
      expect(err.code).toBe('egress_denied');
    });

    it('stops after five redirects', async () => {
      const err = await failure(call({ method: 'GET', url: `${A()}/loop` }, ctx([`127.0.0.1:${a.port}`])));
      expect(err.code).toBe('tool_error');
      expect(err.message).toContain('stopped after 5 redirects');
    });

    it('turns a POST into a GET without a body on 303', async () => {
      const res = await call(
        { method: 'POST', url: `${A()}/redirect?status=303&to=/echo`, body: 'payload', headers: { 'Content-Type': 'text/plain' } },
        ctx([`127.0.0.1:${a.port}`]),
      );
      const echo = res.body as Echo;
      expect(echo.method).toBe('GET');
      expect(echo.body).toBe('');
      expect(echo.headers['content-type']).toBeUndefined();
    });

    it('keeps method and body on 307', async () => {
      const res = await call({ method: 'PUT', url: `${A()}/redirect?status=307&to=/echo`, body: 'same' }, ctx([`127.0.0.1:${a.port}`]));
      expect(res.body).toMatchObject({ method: 'PUT', body: 'same' });
    });

    it('drops credentials when redirected to another origin', async () => {
      const to = encodeURIComponent(`${B()}/echo`);
      const res = await call(
        { method: 'GET', url: `${A()}/redirect?to=${to}`, headers: { Authorization: 'Bearer t', 'X-Api-Key': 'k', 'X-Trace': 'keep' } },
        ctx([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]),
      );
      const echo = res.body as Echo;
      expect(echo.headers.authorization).toBeUndefined();
      expect(echo.headers['x-api-key']).toBeUndefined();
      expect(echo.headers['x-trace']).toBe('keep');
      expect(echo.headers['idempotency-key']).toBe('task-1:3:0');
    });
  });

  describe('response size', () => {
    it(`truncates bodies over ${MAX_RESPONSE_BYTES} bytes and says so`, async () => {
      const res = await call({ method: 'GET', url: `${A()}/big?bytes=${3 * MAX_RESPONSE_BYTES}` }, ctx([`127.0.0.1:${a.port}`]));
      expect(res.truncated).toBe(true);
      expect(res.bytes).toBe(MAX_RESPONSE_BYTES);
      expect((res.body as string).length).toBe(MAX_RESPONSE_BYTES);
    });

    it('returns a body exactly at the cap untruncated', async () => {
      const res = await call({ method: 'GET', url: `${A()}/big?bytes=${MAX_RESPONSE_BYTES}` }, ctx([`127.0.0.1:${a.port}`]));
      expect(res.truncated).toBe(false);
      expect(res.bytes).toBe(MAX_RESPONSE_BYTES);
    });

    it('does not parse truncated JSON', async () => {
      const small = httpRequestTool({ lookup, maxResponseBytes: 10 });
      const res = (await small.execute({ method: 'GET', url: `${A()}/big?bytes=100&type=application/json` }, ctx([`127.0.0.1:${a.port}`]))) as HttpResponseResult;
      expect(res).toMatchObject({ truncated: true, body: 'aaaaaaaaaa' });
    });

    it('decompresses gzip and caps the decompressed size (no zip bombs)', async () => {
      const ok = await call({ method: 'GET', url: `${A()}/gzip?bytes=1000` }, ctx([`127.0.0.1:${a.port}`]));
      expect(ok).toMatchObject({ truncated: false, body: 'z'.repeat(1000) });
      const bomb = await call({ method: 'GET', url: `${A()}/gzip?bytes=${20 * MAX_RESPONSE_BYTES}` }, ctx([`127.0.0.1:${a.port}`]));
      expect(bomb.truncated).toBe(true);
      expect(bomb.bytes).toBe(MAX_RESPONSE_BYTES);
    });

    it('omits binary bodies', async () => {
      const res = await call({ method: 'GET', url: `${A()}/binary` }, ctx([`127.0.0.1:${a.port}`]));
      expect(res.body).toBeNull();
      expect(res.bodyOmitted).toContain('image/png');
    });
  });

  describe('failures', () => {
    it('times out a server that never answers, as a retryable tool_error', async () => {
      const started = Date.now();
      const err = await failure(call({ method: 'GET', url: `${A()}/hang` }, ctx([`127.0.0.1:${a.port}`], { timeoutMs: 200 })));
      expect(err.code).toBe('tool_error');
      expect(err.retryable).toBe(true);
      expect(err.message).toContain('timed out');
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('times out a body that never ends', async () => {
      const err = await failure(call({ method: 'GET', url: `${A()}/stall-body` }, ctx([`127.0.0.1:${a.port}`], { timeoutMs: 200 })));
      expect(err).toMatchObject({ code: 'tool_error', retryable: true });
      expect(err.message).toContain('timed out');
    });

    it('stops when the caller aborts', async () => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      const err = await failure(call({ method: 'GET', url: `${A()}/hang` }, ctx([`127.0.0.1:${a.port}`], { signal: ac.signal })));
      expect(err).toMatchObject({ code: 'tool_error', retryable: true });
      expect(err.message).toContain("caller's deadline");
    });

    it('does not start when the caller has already aborted', async () => {
      const ac = new AbortController();
      ac.abort();
      const err = await failure(call({ method: 'GET', url: `${A()}/echo` }, ctx([`127.0.0.1:${a.port}`], { signal: ac.signal })));
      expect(err.message).toContain("caller's deadline");
    });

    it('reports a connection reset as retryable', async () => {
      const err = await failure(call({ method: 'GET', url: `${A()}/reset` }, ctx([`127.0.0.1:${a.port}`])));
      expect(err).toMatchObject({ code: 'tool_error', retryable: true });
      expect(err.message).toContain('connection reset');
    });

    it('reports a refused connection as retryable', async () => {
      const err = await failure(call({ method: 'GET', url: `http://127.0.0.1:${closedPort}/` }, ctx([`127.0.0.1:${closedPort}`])));
      expect(err).toMatchObject({ code: 'tool_error', retryable: true });
      expect(err.message).toContain('connection refused');
    });
  });
});
