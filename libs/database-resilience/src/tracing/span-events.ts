import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type * as OpenTelemetry from '@opentelemetry/api';
import { ErrorCategory } from '../classification/error-category.enum';
import type { ClassifiedError } from '../classification/classified-error';
import { DataSourceRegistry } from '../engines/data-source-registry';
import type { ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import { optionalPeerIfInstalled } from '../options/optional-peer';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';

type Attributes = OpenTelemetry.Attributes;

/** OpenTelemetry's `db.system` for TypeORM's DataSource types. */
const DB_SYSTEM: Record<string, string> = { mysql: 'mysql', mariadb: 'mariadb', postgres: 'postgresql' };

/**
 * What the module did for a request, on the request's own trace: retries, deadlocks, breaker rejections and
 * commits of unknown outcome become events (and attributes) of the span active where they happened — the span
 * of the HTTP request or of the database call of whatever instrumentation the app runs. Only when
 * `@opentelemetry/api` is installed (an optional peer) and `tracing` is on; otherwise nothing is subscribed.
 * Names follow the semantic conventions where they have one (`db.system`, `error.type`); the module's own
 * are under `db.resilience.*`. No values: the classifier's names and codes only.
 */
@Injectable()
export class SpanEvents implements OnModuleInit, OnModuleDestroy {
  private unsubscribe: () => void = () => undefined;
  private readonly systems = new Map<string, string>();

  constructor(
    private readonly events: ResilienceEvents,
    private readonly registry: DataSourceRegistry,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {}

  onModuleInit(): void {
    if (!this.options.tracing) return;
    const api = optionalPeerIfInstalled<typeof OpenTelemetry>('@opentelemetry/api');
    if (!api) return;
    this.unsubscribe = this.events.subscribe(
      (event) => {
        const span = api.trace.getActiveSpan();
        if (span?.isRecording()) this.annotate(span, event);
      },
      { types: ['attempt-failed', 'recovered', 'breaker-rejected', 'commit-settled'] },
    );
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  private annotate(span: OpenTelemetry.Span, event: ResilienceEvent): void {
    switch (event.type) {
      case 'attempt-failed': {
        const attributes: Attributes = {
          ...this.base(event.database),
          ...failure(event.error),
          'db.resilience.attempt': event.attempt,
        };
        if (event.error.category === ErrorCategory.DEADLOCK) span.addEvent('db.resilience.deadlock', attributes);
        if (event.willRetry) {
          span.addEvent('db.resilience.retry', { ...attributes, 'db.resilience.retry.delay_ms': event.delayMs ?? 0 });
        } else if (event.error.code === 'COMMIT_OUTCOME_UNKNOWN') {
          span.addEvent('db.resilience.commit_outcome_unknown', attributes);
          span.setAttributes({ 'db.resilience.commit_outcome_unknown': true, 'error.type': 'COMMIT_OUTCOME_UNKNOWN' });
        } else {
          span.setAttributes({ 'error.type': attributes['error.type'], 'db.resilience.attempts': event.attempt });
        }
        break;
      }
      case 'recovered':
        span.setAttribute('db.resilience.attempts', event.attempts);
        break;
      case 'breaker-rejected':
        span.addEvent('db.resilience.circuit_open', { ...this.base(event.database), 'error.type': 'CIRCUIT_OPEN' });
        span.setAttribute('db.resilience.circuit_open', true);
        break;
      case 'commit-settled':
        span.addEvent('db.resilience.commit_settled', {
          ...this.base(event.database),
          'db.resilience.committed': event.committed,
        });
        break;
    }
  }

  private base(database: string): Attributes {
    let system = this.systems.get(database);
    if (system === undefined) {
      const type = this.registry.list().find((guarded) => guarded.name === database)?.dataSource.options.type;
      system = DB_SYSTEM[type ?? ''] ?? 'other_sql';
      this.systems.set(database, system);
    }
    return { 'db.system': system, 'db.resilience.database': database };
  }
}

function failure(error: ClassifiedError): Attributes {
  return {
    'error.type': error.code ?? error.name,
    'db.resilience.category': error.category,
    'db.resilience.severity': error.severity,
    ...(error.sqlState ? { 'db.response.status_code': error.sqlState } : {}),
  };
}
