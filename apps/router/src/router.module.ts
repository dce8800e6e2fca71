import { Module } from '@nestjs/common';
import { AnomalyGuard } from './anomaly/anomaly.guard';
import { BudgetAccountant } from './budgets/budget-accountant.service';
import { CacheHttpController } from './cache/cache.http.controller';
import { responseCacheProvider } from './cache/response-cache.provider';
import { CompletionResponder } from './completion/completion.responder';
import { BatchService } from './batch/batch.service';

@Module({ controllers: [CacheHttpController], providers: [BudgetAccountant, AnomalyGuard, responseCacheProvider, CompletionResponder, BatchService] })
export class RouterModule {}
