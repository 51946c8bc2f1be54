import { Logger } from '@nestjs/common';
import { ErrorCategory } from '../classification/error-category.enum';
import { RecoveryAction } from '../classification/recovery-action.enum';
import { Severity } from '../classification/severity.enum';
import { MemorySharedStateStore } from '../shared-state/shared-state-store';
import { resolveOptions } from './options.schema';
import { ResilienceOptionsError } from './resilience-options.error';

function problemWith(options: unknown): string {
  try {
    resolveOptions(options as never);
  } catch (error) {
    expect(error).toBeInstanceOf(ResilienceOptionsError);
    return (error as Error).message;
  }
  throw new Error('expected the options to be rejected');
}

describe('resolveOptions', () => {
  it('fills in every default', () => {
    const options = resolveOptions(undefined);
    expect(options).toEqual({
      databases: ['default'],
      classifier: { rules: [] },
      retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 2000, jitter: 'full', budgetMs: 10_000 },
      circuitBreaker: {
        failureThreshold: 5,
        recoveryTimeoutMs: 60_000,
        firstProbeAfterMs: 1_000,
        halfOpenMaxProbes: 1,
        successThreshold: 1,
        failureRateThreshold: 0.5,
        minimumCalls: 10,
        windowMs: 10_000,
        probe: 'request',
      },
      sharedState: { store: { type: 'memory' } },
      pool: { acquireTimeoutMs: 10_000, validateAfterIdleMs: 5_000, validationTimeoutMs: 2_000 },
      failover: { replicaRetryMs: 5_000, maxLagMs: null, lagCheckIntervalMs: 1_000, readYourWritesMs: 5_000 },
      idempotency: { table: 'resilience_idempotency_keys', settleTimeoutMs: 10_000 },
      queries: { slowQueryMs: 1000, timeoutMs: 30_000, slowQueryLogSize: 200 },
      http: { slowRequestMs: 3000, requestDeadlineMs: 30_000, retryAfterSeconds: 5, requestIdHeader: 'x-request-id' },
      healthCheck: { enabled: true, intervalMs: 10_000, timeoutMs: 2_000 },
      history: { maxEntries: 1000 },
      deadlocks: {
        clusterThreshold: 5,
        clusterWindowMs: 300_000,
        serverReport: true,
        serverReportMinIntervalMs: 10_000,
        maxFingerprints: 500,
      },
      alerts: {
        minSeverity: 'critical',
        errorsPerMinute: 10,
        cooldownMs: 300_000,
        fleetGatherMs: 1000,
        channelTimeoutMs: 5_000,
        log: true,
        callbacks: [],
      },
      degradation: { onBreakerOpen: true, errorsPerMinute: null, healthyPeriodMs: 30_000 },
      admin: { sessionTtlMs: 28_800_000, refreshIntervalMs: 5000, authFailureLimit: 10, authFailureWindowMs: 60_000 },
      reports: { intervalMs: null, email: false },
      deadlockAdmission: { enabled: true, minLimit: 2, quietMs: 10_000 },
      concurrencyLimit: { enabled: false, minLimit: 1, maxLimit: null, maxWaitMs: null },
      retryBudget: { enabled: true, ratio: 0.2, minRetriesPerSecond: 10, windowMs: 10_000 },
      tracing: true,
      logs: { json: false },
    });
  });

  it('keeps what it is given', () => {
    const options = resolveOptions({ retry: { maxAttempts: 7, jitter: 'none' }, databases: ['default', 'reporting'] });
    expect(options.retry).toMatchObject({ maxAttempts: 7, jitter: 'none', baseDelayMs: 50 });
    expect(options.databases).toEqual(['default', 'reporting']);
  });

  it('rejects negative attempts, naming the option and the accepted values', () => {
    expect(problemWith({ retry: { maxAttempts: -1 } })).toContain(
      '`retry.maxAttempts` must be an integer from 1 to 100 (got -1)',
    );
    expect(problemWith({ retry: { maxAttempts: 2.5 } })).toContain('`retry.maxAttempts` must be an integer');
  });

  it('takes a SharedStateStore of your own, and refuses what is not one', () => {
    const store = new MemorySharedStateStore();
    expect(resolveOptions({ sharedState: { store } }).sharedState.store).toBe(store);
    expect(problemWith({ sharedState: { store: {} as never } })).toMatch(
      /`sharedState\.store` must be \{ type: 'memory' \}, \{ type: 'redis', url \} or a SharedStateStore/,
    );
  });

  it('reads circuitBreaker.store where it used to be, moved to sharedState.store, and says so once', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const redis = { type: 'redis', url: 'redis://cache:6379' } as const;
      const moved = resolveOptions({ circuitBreaker: { store: redis } });
      expect(moved.sharedState.store).toEqual({ ...redis, keyPrefix: 'db-resilience', timeoutMs: 250 });
      expect(moved.circuitBreaker).not.toHaveProperty('store');
      resolveOptions({ circuitBreaker: { store: redis } });
      expect(warn.mock.calls.filter(([message]) => String(message).includes('sharedState.store'))).toHaveLength(1);
      expect(problemWith({ circuitBreaker: { store: redis }, sharedState: { store: redis } })).toContain(
        '`circuitBreaker.store` moved to `sharedState.store`',
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('rejects a health check timeout that is not below its interval', () => {
    expect(problemWith({ healthCheck: { intervalMs: 1000, timeoutMs: 1000 } })).toContain(
      '`healthCheck.timeoutMs` must be below healthCheck.intervalMs',
    );
  });

  it('rejects an admin token shorter than 16 characters without echoing it', () => {
    const problem = problemWith({ admin: { token: 'short-secret' } });
    expect(problem).toContain('`admin.token` must be a string of at least 16 characters');
    expect(problem).not.toContain('short-secret');
  });

  it('rejects a threshold of 0', () => {
    expect(problemWith({ circuitBreaker: { failureThreshold: 0 } })).toContain(
      '`circuitBreaker.failureThreshold` must be an integer from 1 to 10000 (got 0)',
    );
  });

  it('rejects an unknown severity and an unknown jitter', () => {
    expect(problemWith({ alerts: { minSeverity: 'urgent' } })).toContain(
      '`alerts.minSeverity` must be one of critical, high, medium, low',
    );
    expect(problemWith({ retry: { jitter: 'lots' } })).toContain(
      '`retry.jitter` must be one of full, equal, decorrelated, none',
    );
  });

  it('rejects a non-URL SMTP setting without echoing it (it may hold a password)', () => {
    const message = problemWith({
      alerts: { email: { smtpUrl: 'mail-server:pa55word', from: 'a@b.c', to: ['ops@b.c'] } },
    });
    expect(message).toContain('`alerts.email.smtpUrl` must be an smtp:// or smtps:// URL');
    expect(message).not.toContain('pa55word');
    expect(problemWith({ alerts: { email: { smtpUrl: 'smtp://x', from: 'nobody', to: [] } } })).toMatch(
      /alerts\.email\.from` must be an e-mail address[\s\S]*alerts\.email\.to` must list at least one address/,
    );
  });

  it('reads deadlocks.innodbStatus and its interval under their engine-neutral names', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const { deadlocks } = resolveOptions({ deadlocks: { innodbStatus: false, innodbStatusMinIntervalMs: 5 } });
      expect(deadlocks).toMatchObject({ serverReport: false, serverReportMinIntervalMs: 5 });
      expect(deadlocks).not.toHaveProperty('innodbStatus');
      expect(problemWith({ deadlocks: { innodbStatus: false, serverReport: true } })).toContain(
        '`deadlocks.innodbStatus` moved to `deadlocks.serverReport`',
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('rejects a shared store that is not a Redis URL, and an unknown store type', () => {
    expect(problemWith({ sharedState: { store: { type: 'redis', url: 'http://cache:6379' } } })).toContain(
      '`sharedState.store.url` must be a redis:// or rediss:// URL',
    );
    expect(problemWith({ circuitBreaker: { store: { type: 'redis', url: 'http://cache:6379' } } })).toContain(
      '`circuitBreaker.store.url` must be a redis:// or rediss:// URL',
    );
    expect(problemWith({ circuitBreaker: { store: { type: 'memcached' } } })).toContain(
      "`circuitBreaker.store.type` must be { type: 'memory' } or { type: 'redis', url }",
    );
  });

  it('rejects an unknown option and lists the known ones', () => {
    expect(problemWith({ retry: { maxAtempts: 3 } })).toContain(
      'unknown option `retry.maxAtempts` (known: maxAttempts, baseDelayMs, maxDelayMs, jitter, budgetMs, retryOn)',
    );
  });

  it('rejects a delay range upside down and a rule without a matcher', () => {
    expect(problemWith({ retry: { baseDelayMs: 500, maxDelayMs: 100 } })).toContain(
      'baseDelayMs must not exceed maxDelayMs',
    );
    const rule = { category: ErrorCategory.DEADLOCK, severity: Severity.LOW, action: RecoveryAction.RETRY };
    expect(problemWith({ classifier: { rules: [rule] } })).toContain(
      '`classifier.rules.0` must have at least one matcher',
    );
  });

  it('reports every bad option at once', () => {
    const message = problemWith({ retry: { maxAttempts: 0 }, history: { maxEntries: -5 } });
    expect(message).toContain('retry.maxAttempts');
    expect(message).toContain('history.maxEntries');
  });
});
