import { Logger } from '@nestjs/common';
import { ResilienceEvents } from '../events/resilience-events';
import { resolveOptions } from '../options/options.schema';
import { MemorySharedStateStore } from '../shared-state/shared-state-store';
import type { DeadlockAnalyticsService } from '../deadlock/deadlock-analytics.service';
import type { ErrorStatisticsService } from './error-statistics.service';
import { FleetView } from './fleet-view.service';
import type { SlowQueryLog } from './slow-query-log.service';

const viewWith = (options: Parameters<typeof resolveOptions>[0]) =>
  new FleetView(
    new ResilienceEvents(),
    { recentErrors: () => [] } as unknown as ErrorStatisticsService,
    {} as SlowQueryLog,
    {} as DeadlockAnalyticsService,
    resolveOptions(options),
  );

describe('FleetView: where it reads the fleet from', () => {
  it('with a store of the app’s own it stays local, says so once at start-up, and names the setting it needs', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    try {
      const view = viewWith({ sharedState: { store: new MemorySharedStateStore() } });
      expect(log.mock.calls.filter(([message]) => String(message).includes('fleet view'))).toHaveLength(1);
      expect(await view.recentErrors(10)).toMatchObject({
        scope: 'local',
        reason: expect.stringContaining('sharedState.store'),
      });
    } finally {
      log.mockRestore();
    }
  });

  it('with the memory store (the default) it is local without a word', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    try {
      const view = viewWith({});
      expect(log).not.toHaveBeenCalled();
      expect(await view.recentErrors(10)).toMatchObject({ scope: 'local' });
    } finally {
      log.mockRestore();
    }
  });
});
