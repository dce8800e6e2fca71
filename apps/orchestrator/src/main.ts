import './instrument';
import { runService } from '@keel/service-kit';
import { orchestratorService } from './service';

void runService(orchestratorService);
