import './instrument';
import { runService } from '@keel/service-kit';
import { guardrailService } from './service';

void runService(guardrailService);
