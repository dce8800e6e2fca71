import { KeelError } from '@keel/contracts';

/** Awaits a promise that must fail with a KeelError and returns it for assertions (anything else fails the test). */
export async function keelFailure(promise: Promise<unknown>): Promise<KeelError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof KeelError) return err;
    throw err;
  }
  throw new Error('expected a KeelError');
}
