import type { NextFunction, Request, Response } from 'express';
import { bearerKey } from '../auth/api-key.guard';
import type { PrincipalResolver } from '../auth/api-key.guard';
import { rateLimitedError } from './rate-limiter';
import type { RateLimiter } from './rate-limiter';

/**
 * A tenant flooding an endpoint past its limit is refused before its request
 * costs anything more: before body parsing, routing, guards and handlers.
 * Only when this process already knows the key (no I/O here) and the tenant's
 * request bucket is empty; every other request goes on to the guard, which
 * makes the real decision (and takes the token). Without this, each refused
 * request of a flood still pays the whole Nest pipeline, and that CPU is what
 * the other tenants' requests wait for (bench/tenant-isolation.bench.mjs).
 */
export function earlyShed(limiter: RateLimiter, resolver: PrincipalResolver) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization;
    if (!header || !limiter.enabled || !req.path.startsWith('/v1/')) return next();
    const key = bearerKey(header);
    const principal = key ? resolver.peek(key) : undefined;
    if (!principal) return next();
    const refusal = limiter.shed(principal.tenant);
    if (!refusal) return next();
    const err = rateLimitedError(refusal);
    // Nothing was read: close the connection's body rather than parse it.
    res.setHeader('Retry-After', Math.ceil(refusal.retryAfterMs / 1000).toString());
    res.status(429).json({ error: { code: err.code, message: err.message, details: err.details } });
  };
}
