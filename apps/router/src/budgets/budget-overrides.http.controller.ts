import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put, Req } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { BudgetOverrides, OVERRIDE_MAX_DAYS, SetOverrideSchema } from './budget-overrides';
import type { StoredOverride } from './budget-overrides';

const DAY_MS = 86_400_000;

/** Budget overrides of the caller's own tenant (apps/router/README.md, "Budget overrides"). Admins only. */
@Controller('v1/admin/budgets/overrides')
export class BudgetOverridesHttpController {
  constructor(@Inject(BudgetOverrides) private readonly overrides: BudgetOverrides) {}

  @Put()
  @HttpCode(200)
  @RequireRoles('admin')
  async set(@Req() req: AuthedRequest, @Body() body: unknown): Promise<StoredOverride> {
    const parsed = SetOverrideSchema.safeParse(body ?? {});
    if (!parsed.success) throw new KeelError('invalid_request', `invalid budget override: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    const expires = Date.parse(parsed.data.expiresAt);
    if (expires <= Date.now()) throw new KeelError('invalid_request', 'invalid budget override: expiresAt must be in the future');
    if (expires > Date.now() + OVERRIDE_MAX_DAYS * DAY_MS) throw new KeelError('invalid_request', `invalid budget override: expiresAt is at most ${OVERRIDE_MAX_DAYS} days away`);
    return this.overrides.set(req.principal!, parsed.data);
  }

  @Get()
  @RequireRoles('admin')
  async list(@Req() req: AuthedRequest): Promise<{ items: StoredOverride[] }> {
    return { items: await this.overrides.list(req.principal!.tenant) };
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireRoles('admin')
  async remove(@Req() req: AuthedRequest, @Param('id') id: string): Promise<void> {
    if (!(await this.overrides.remove(req.principal!, id))) throw new KeelError('not_found', `no budget override ${id}`);
  }
}
