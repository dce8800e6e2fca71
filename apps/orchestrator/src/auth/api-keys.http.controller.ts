import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { KeelError } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { ApiKeysRepository } from './api-keys.repository';
import type { ApiKeyView, CreatedApiKey } from './api-keys.repository';
import { CreateApiKeySchema, KEY_ID, resolveExpiry, RotateApiKeySchema } from './api-keys.schemas';
import { DbPrincipalResolver } from './db-principal.resolver';

/**
 * API key administration (docs/api-keys.md). Admins only, and only within
 * their own tenant: another tenant's key is not found, and creating a key for
 * another tenant is forbidden. The secret is in the create/rotate response and
 * nowhere else; every change writes an audit row in the same transaction.
 */
@Controller('v1/admin/api-keys')
export class ApiKeysHttpController {
  constructor(
    @Inject(ApiKeysRepository) private readonly keys: ApiKeysRepository,
    @Inject(DbPrincipalResolver) private readonly resolver: DbPrincipalResolver,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireRoles('admin')
  async create(@Req() req: AuthedRequest, @Body() body: unknown): Promise<CreatedApiKey> {
    const parsed = CreateApiKeySchema.safeParse(jsonBody(req, body, true));
    if (!parsed.success) throw new KeelError('invalid_request', `invalid API key request: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    const me = req.principal!;
    const tenant = parsed.data.tenant ?? me.tenant;
    if (tenant !== me.tenant) throw new KeelError('forbidden', `an admin of tenant ${me.tenant} can create keys only for tenant ${me.tenant}`);
    const expiry = resolveExpiry(parsed.data);
    if ('error' in expiry) throw new KeelError('invalid_request', `invalid API key request: ${expiry.error}`);
    return this.keys.create({ tenant, role: parsed.data.role, name: parsed.data.name, expiresAt: expiry.expiresAt }, me);
  }

  @Get()
  @RequireRoles('admin')
  async list(@Req() req: AuthedRequest): Promise<{ items: ApiKeyView[] }> {
    return { items: await this.keys.list(req.principal!.tenant) };
  }

  /** 204 whether the key was active or already revoked; 404 for an unknown id or another tenant's key. */
  @Delete(':id')
  @HttpCode(204)
  @RequireRoles('admin')
  async revoke(@Req() req: AuthedRequest, @Param('id') id: string): Promise<void> {
    const outcome = KEY_ID.test(id) ? await this.keys.revoke(req.principal!.tenant, id, req.principal!) : 'not_found';
    if (outcome === 'not_found') throw notFound(id);
    this.resolver.forget(id);
  }

  @Post(':id/rotate')
  @HttpCode(201)
  @RequireRoles('admin')
  async rotate(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown): Promise<CreatedApiKey> {
    const parsed = RotateApiKeySchema.safeParse(jsonBody(req, body, false));
    if (!parsed.success) throw new KeelError('invalid_request', `invalid rotation request: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    if (!KEY_ID.test(id)) throw notFound(id);
    const expiry = resolveExpiry(parsed.data);
    if ('error' in expiry) throw new KeelError('invalid_request', `invalid rotation request: ${expiry.error}`);
    const created = await this.keys.rotate(req.principal!.tenant, id, { graceSeconds: parsed.data.graceSeconds ?? 0, expiresAt: expiry.expiresAt }, req.principal!);
    this.resolver.forget(id);
    return created;
  }
}

const notFound = (id: string) => new KeelError('not_found', `no API key ${id} in this tenant`);

/** The JSON body; a request without a body counts as `{}` where the body is optional. */
function jsonBody(req: Request, body: unknown, required: boolean): unknown {
  const json = req.is('application/json');
  if (json === null && !required) return {};
  if (!json) throw new KeelError('unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
  return body;
}
