import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ErrorCategory } from './classification/error-category.enum';
import { ErrorClassifier } from './classification/error-classifier';
import { RecoveryAction } from './classification/recovery-action.enum';
import { Severity } from './classification/severity.enum';
import { DatabaseResilienceModule } from './database-resilience.module';
import type { ResolvedResilienceOptions } from './options/options.schema';
import { ResilienceOptionsError } from './options/resilience-options.error';
import { RESILIENCE_OPTIONS } from './options/resilience-options.token';

const deadlock = Object.assign(new Error('Deadlock found'), {
  errno: 1213,
  code: 'ER_LOCK_DEADLOCK',
  sqlState: '40001',
});

/** A feature module that does not import the resilience module: it relies on it being global. */
@Injectable()
class UsesClassifier {
  constructor(readonly classifier: ErrorClassifier) {}
}
@Module({ providers: [UsesClassifier] })
class FeatureModule {}

@Injectable()
class Settings {
  readonly attempts = 7;
}
@Module({ providers: [Settings], exports: [Settings] })
class SettingsModule {}

describe('DatabaseResilienceModule', () => {
  it('boots with forRoot() and no options, global, with every default', async () => {
    const app = await Test.createTestingModule({
      imports: [DatabaseResilienceModule.forRoot(), FeatureModule],
    }).compile();
    expect(app.get(UsesClassifier).classifier.classify(deadlock).category).toBe(ErrorCategory.DEADLOCK);
    expect(app.get<ResolvedResilienceOptions>(RESILIENCE_OPTIONS).retry.maxAttempts).toBe(3);
    await app.close();
  });

  it('rejects a bad metricsPath or a switch that is not a boolean at definition, naming them', () => {
    expect(() => DatabaseResilienceModule.forRoot({ metricsPath: 'metrics' })).toThrow(
      /`metricsPath` must be false or a path starting with \//,
    );
    expect(() => DatabaseResilienceModule.forRoot({ exceptionFilter: 'yes' as unknown as boolean })).toThrow(
      ResilienceOptionsError,
    );
  });

  it('is not global with isGlobal: false', async () => {
    const compiling = Test.createTestingModule({
      imports: [DatabaseResilienceModule.forRoot({ isGlobal: false }), FeatureModule],
    }).compile();
    await expect(compiling).rejects.toThrow(/ErrorClassifier/);
  });

  it('hands classifier rules from the options to the ErrorClassifier', async () => {
    const app = await Test.createTestingModule({
      imports: [
        DatabaseResilienceModule.forRoot({
          classifier: {
            rules: [
              {
                errno: 1213,
                name: 'OURS',
                category: ErrorCategory.DEADLOCK,
                severity: Severity.LOW,
                action: RecoveryAction.RETRY,
              },
            ],
          },
        }),
      ],
    }).compile();
    expect(app.get(ErrorClassifier).classify(deadlock)).toMatchObject({ name: 'OURS', severity: Severity.LOW });
    await app.close();
  });

  it('takes options from forRootAsync with imports, inject and useFactory', async () => {
    const app = await Test.createTestingModule({
      imports: [
        DatabaseResilienceModule.forRootAsync({
          imports: [SettingsModule],
          inject: [Settings],
          useFactory: async (settings: Settings) => ({ retry: { maxAttempts: settings.attempts } }),
        }),
      ],
    }).compile();
    expect(app.get<ResolvedResilienceOptions>(RESILIENCE_OPTIONS).retry).toMatchObject({
      maxAttempts: 7,
      jitter: 'full',
    });
    await app.close();
  });

  it('stops start-up with one message naming the bad option (forRoot)', async () => {
    const compiling = Test.createTestingModule({
      imports: [DatabaseResilienceModule.forRoot({ retry: { maxAttempts: -1 } })],
    }).compile();
    await expect(compiling).rejects.toThrow(ResilienceOptionsError);
    await expect(
      Test.createTestingModule({
        imports: [DatabaseResilienceModule.forRoot({ retry: { maxAttempts: -1 } })],
      }).compile(),
    ).rejects.toThrow('`retry.maxAttempts` must be an integer from 1 to 100 (got -1)');
  });

  it('stops start-up with one message naming the bad option (forRootAsync)', async () => {
    const compiling = Test.createTestingModule({
      imports: [
        DatabaseResilienceModule.forRootAsync({
          useFactory: () => ({ circuitBreaker: { failureThreshold: 0 } }),
        }),
      ],
    }).compile();
    await expect(compiling).rejects.toThrow(
      '`circuitBreaker.failureThreshold` must be an integer from 1 to 10000 (got 0)',
    );
  });
});
