import { ServerTarget } from '../../apps/cli/src/support/server-target';
import { databaseEnv } from '../../libs/shared/src/database-env';

/**
 * A database of the spec's own on the shared server, dropped after; `DB_NAME` points at it while it lives so
 * that apps booted by the spec use it.
 */
export async function useScratchDatabase(prefix: string): Promise<ServerTarget & { restoreEnv(): Promise<void> }> {
  const previous = process.env.DB_NAME;
  const target = await ServerTarget.createScratch(databaseEnv(), prefix);
  process.env.DB_NAME = target.database;
  return Object.assign(target, {
    async restoreEnv() {
      if (previous === undefined) delete process.env.DB_NAME;
      else process.env.DB_NAME = previous;
      await target.dropScratch();
    },
  });
}
