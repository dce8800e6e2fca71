import './instrument';
import { runService } from '@keel/service-kit';
import { toolExecutorService } from './service';

void runService(toolExecutorService);
