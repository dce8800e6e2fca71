import { Module } from '@nestjs/common';
import { ScreenHttpController } from './screen-api/screen.http.controller';
import { ScreenMessageController } from './screen-api/screen.message.controller';
import { ScreenService } from './screen-api/screen.service';

@Module({ controllers: [ScreenHttpController], providers: [ScreenService, ScreenMessageController] })
export class GuardrailModule {}
