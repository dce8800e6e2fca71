import { Inject, Injectable, Optional, SetMetadata } from '@nestjs/common';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { KeelError } from '@keel/contracts';
import type { Principal, Role } from '@keel/contracts';
import { RateLimiter, rateLimitedError } from '../rate-limit/rate-limiter';
import { TASK_SUBMISSION_KEY } from '../rate-limit/task-submission';

/**
 * `Authorization: Bearer <api key>` on every route that declares roles with
 * `@RequireRoles(...)`. How a key becomes a principal is the service's
 * business (the orchestrator owns the key table; others ask it over NATS),
 * so the guard depends only on this abstract resolver.
 */
export abstract class PrincipalResolver {
  abstract resolve(key: string): Promise<Principal | null>;
  /** The principal of a key already known to this process, without any I/O (undefined: not known yet). */
  peek(_key: string): Principal | null | undefined {
    return undefined;
  }
}

export const ROLES_KEY = 'keel:roles';
export const RequireRoles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

export type AuthedRequest = Request & { principal?: Principal };

/** The key of an `Authorization: Bearer <key>` header, or null when the header has another shape. */
export function bearerKey(header: string): string | null {
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? null;
}

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly resolver: PrincipalResolver,
    @Optional() @Inject(RateLimiter) private readonly limiter?: RateLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, [ctx.getHandler(), ctx.getClass()]);
    if (!roles) return true; // public route (health, metrics, console assets)
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    if (!header) throw new KeelError('unauthorized', 'missing Authorization header: send "Authorization: Bearer <api key>"');
    const key = bearerKey(header);
    if (!key) throw new KeelError('unauthorized', 'Authorization header must be "Bearer <api key>"');
    const principal = await this.resolver.resolve(key);
    if (!principal) throw new KeelError('unauthorized', 'API key is invalid, expired or revoked');
    // admin may do everything a narrower role may.
    if (principal.role !== 'admin' && !roles.includes(principal.role)) {
      throw new KeelError('forbidden', `this action needs one of the roles ${roles.join(', ')}; the key has role ${principal.role}`);
    }
    req.principal = principal;
    // Rate limits (docs/rate-limits.md): after authentication, so they are per tenant and a bad key costs no budget.
    if (this.limiter?.enabled) {
      const task = this.reflector.getAllAndOverride<boolean | undefined>(TASK_SUBMISSION_KEY, [ctx.getHandler(), ctx.getClass()]) ?? isTaskSubmit(req);
      const decision = this.limiter.check({ tenant: principal.tenant, userId: userIdOf(req), request: true, task });
      if (!decision.ok) throw rateLimitedError(decision);
    }
    return true;
  }
}

function isTaskSubmit(req: Request): boolean {
  return req.method === 'POST' && /^\/v1\/tasks\/?$/.test(req.path);
}

/** The user a request names: a JSON body's `userId` (task submission) or a `:userId` route parameter. */
function userIdOf(req: Request): string | undefined {
  const body = req.body as { userId?: unknown } | undefined;
  if (body && typeof body === 'object' && typeof body.userId === 'string' && body.userId) return body.userId;
  const param = (req.params as Record<string, string | undefined> | undefined)?.userId;
  return param || undefined;
}
