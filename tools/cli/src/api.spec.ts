import { ApiError, errorFromResponse, networkReason } from './api';

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
