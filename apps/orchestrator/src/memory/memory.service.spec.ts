import { KeelError } from '@keel/contracts';
import { createLogger } from '@keel/telemetry';
import type { CheckpointRepository } from '../checkpoints/checkpoint.repository';
import type { TaskEventsService } from '../events/task-events.service';
import type { PeersClient } from '../peers/peers.client';
import type { MemoryRepository } from './memory.repository';
import { MemoryService } from './memory.service';

describe('MemoryService.forgetUser', () => {
  const report = { memoryItems: 2, summaries: 1, tasks: 3, taskMessages: 6, taskEvents: 20, feedback: 0, messages: 4 };
  const actor = { keyId: 'k1', name: 'ops-admin' };
  const setup = (forgetUserCache: jest.Mock, active = 0) => {
    const repo = { activeTasks: jest.fn().mockResolvedValue(active), forgetUser: jest.fn().mockResolvedValue(report) };
    const peers = { forgetUserCache } as unknown as PeersClient;
    const service = new MemoryService(repo as unknown as MemoryRepository, peers, {} as CheckpointRepository, {} as TaskEventsService, createLogger('test', { level: 'silent' }));
    return { repo, service };
  };

  it('deletes the router\'s cached answers first, then the memory, and reports both', async () => {
    const cache = jest.fn().mockResolvedValue(5);
    const { repo, service } = setup(cache);
    expect(await service.forgetUser('acme', 'carol', actor)).toEqual({ ...report, cacheEntries: 5 });
    expect(cache).toHaveBeenCalledWith({ tenant: 'acme', userId: 'carol', actor });
    expect(cache.mock.invocationCallOrder[0]).toBeLessThan(repo.forgetUser.mock.invocationCallOrder[0]);
  });

  it('deletes nothing when the router cannot be reached: a retryable 503, send the request again', async () => {
    const { repo, service } = setup(jest.fn().mockRejectedValue(new KeelError('unavailable', 'no responders', { retryable: true })));
    await expect(service.forgetUser('acme', 'carol', actor)).rejects.toMatchObject({ code: 'unavailable', retryable: true, message: expect.stringMatching(/nothing was deleted, try again/) });
    expect(repo.forgetUser).not.toHaveBeenCalled();
  });

  it('asks nobody while a task of the user is unfinished (409)', async () => {
    const cache = jest.fn();
    const { repo, service } = setup(cache, 2);
    await expect(service.forgetUser('acme', 'carol', actor)).rejects.toMatchObject({ code: 'conflict' });
    expect(cache).not.toHaveBeenCalled();
    expect(repo.forgetUser).not.toHaveBeenCalled();
  });
});
