import './instrument';
import { runService } from '@keel/service-kit';
import { routerService } from './service';

void runService(routerService);
