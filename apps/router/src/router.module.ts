import { Module } from '@nestjs/common';
import { AnomalyGuard } from './anomaly/anomaly.guard';
import { BudgetAccountant } from './budgets/budget-accountant.service';
import { responseCacheProvider } from './cache/response-cache.provider';
import { CompletionResponder } from './completion/completion.responder';

@Module({ providers: [BudgetAccountant, AnomalyGuard, responseCacheProvider, CompletionResponder] })
export class RouterModule {}
