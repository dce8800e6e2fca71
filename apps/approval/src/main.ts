import './instrument';
import { runService } from '@keel/service-kit';
import { approvalService } from './service';

void runService(approvalService);
