import { Module } from '@nestjs/common';
import { CompletionResponder } from './completion/completion.responder';

@Module({ providers: [CompletionResponder] })
export class RouterModule {}
