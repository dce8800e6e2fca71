import { Module } from '@nestjs/common';
import { AnomalyGuard } from './anomaly/anomaly.guard';
import { AuditQueryResponder, RouterAuditLog } from './audit/audit-log';
import { BudgetOverrides } from './budgets/budget-overrides';
import { BudgetOverridesHttpController } from './budgets/budget-overrides.http.controller';
import { BudgetAccountant } from './budgets/budget-accountant.service';
import { CacheHttpController } from './cache/cache.http.controller';
import { CacheForgetResponder } from './cache/cache-forget.responder';
import { responseCacheProvider } from './cache/response-cache.provider';
import { CompletionResponder } from './completion/completion.responder';
import { BatchService } from './batch/batch.service';

@Module({
  controllers: [CacheHttpController, BudgetOverridesHttpController],
  providers: [RouterAuditLog, AuditQueryResponder, BudgetOverrides, BudgetAccountant, AnomalyGuard, responseCacheProvider, CacheForgetResponder, CompletionResponder, BatchService],
})
export class RouterModule {}
