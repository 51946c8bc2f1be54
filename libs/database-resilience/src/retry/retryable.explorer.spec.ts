import { Injectable, Logger, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DatabaseResilienceModule } from '../database-resilience.module';
import { ResilienceOptionsError } from '../options/resilience-options.error';
import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { CircuitOpenError } from '../circuit-breaker/circuit-open.error';
import { DatabaseErrorHandler } from './database-error-handler.decorator';
import { Retryable } from './retryable.decorator';

const deadlock = () =>
  Object.assign(new Error('Deadlock found'), { errno: 1213, code: 'ER_LOCK_DEADLOCK', sqlState: '40001' });
const fast = { baseDelayMs: 0, maxDelayMs: 1 };

@Injectable()
class Orders {
  calls = 0;
  innerCalls = 0;

  @Retryable(fast)
  async place(failures: number): Promise<string> {
    this.calls++;
    if (this.calls <= failures) throw deadlock();
    return `placed after ${this.calls}`;
  }

  @Retryable({ ...fast, maxAttempts: 3 })
  async outer(): Promise<void> {
    await this.inner();
  }

  @Retryable({ ...fast, maxAttempts: 3 })
  async inner(): Promise<void> {
    this.innerCalls++;
    throw deadlock();
  }

  notDecorated(): string {
    return 'plain';
  }
}

@Injectable()
class Reports {
  calls = 0;

  @DatabaseErrorHandler('reporting', 'Reports.build')
  async build(): Promise<void> {
    this.calls++;
    throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', fatal: true });
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerRequest {
  @Retryable()
  async work(): Promise<void> {}
}

@Injectable()
class Misconfigured {
  @Retryable({ maxAttempts: 0 })
  async work(): Promise<void> {}
}

/** A testing app with the module and the given providers, initialised (the explorer runs at init). */
async function boot(...providers: Array<new (...args: never[]) => unknown>) {
  const app = await Test.createTestingModule({ imports: [DatabaseResilienceModule.forRoot()], providers }).compile();
  await app.init();
  return app;
}

describe('@Retryable() and its explorer', () => {
  it('wraps decorated provider methods: the whole method re-runs, `this` intact', async () => {
    const app = await boot(Orders);
    const orders = app.get(Orders);
    await expect(orders.place(2)).resolves.toBe('placed after 3');
    expect(orders.notDecorated()).toBe('plain');
    await app.close();
  });

  it('gives up after maxAttempts (default 3)', async () => {
    const app = await boot(Orders);
    const orders = app.get(Orders);
    await expect(orders.place(5)).rejects.toMatchObject({ errno: 1213 });
    expect(orders.calls).toBe(3);
    await app.close();
  });

  it('does not multiply attempts when a retrying method calls another', async () => {
    const app = await boot(Orders);
    const orders = app.get(Orders);
    await expect(orders.outer()).rejects.toMatchObject({ errno: 1213 });
    expect(orders.innerCalls).toBe(3); // not 9
    await app.close();
  });

  it('warns about request-scoped providers it cannot wrap', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const app = await boot(PerRequest);
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining('@Retryable() on PerRequest.work is ignored: request-scoped'),
    );
    warn.mockRestore();
    await app.close();
  });

  it('stops start-up on bad options, naming the method and the option', async () => {
    const app = await Test.createTestingModule({
      imports: [DatabaseResilienceModule.forRoot()],
      providers: [Misconfigured],
    }).compile();
    await expect(app.init()).rejects.toThrow(ResilienceOptionsError);
    await expect(app.init()).rejects.toThrow(
      '@Retryable() on Misconfigured.work: `retry.maxAttempts` must be an integer from 1 to 100 (got 0)',
    );
  });

  it('@DatabaseErrorHandler guards without retrying, on a breaker of its own name', async () => {
    const app = await boot(Reports);
    const reports = app.get(Reports);
    for (let i = 0; i < 5; i++) await expect(reports.build()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(reports.calls).toBe(5); // tried once each
    const breakers = app.get(CircuitBreakerRegistry);
    expect(breakers.get('reporting').state).toBe('open');
    expect(breakers.get('default').state).toBe('closed');
    await expect(reports.build()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(reports.calls).toBe(5);
    await app.close();
  });
});
