import { Module } from '@nestjs/common';
import { BudgetAccountant } from './budgets/budget-accountant.service';
import { responseCacheProvider } from './cache/response-cache.provider';
import { CompletionResponder } from './completion/completion.responder';

@Module({ providers: [BudgetAccountant, responseCacheProvider, CompletionResponder] })
export class RouterModule {}
