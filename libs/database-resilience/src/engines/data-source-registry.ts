import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { ErrorClassifier } from '../classification/error-classifier';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import type { EngineGuard } from './database-engine';
import { ENGINES } from './engines';
import { ResilienceLogger } from '../events/resilience-logger';

/** For messages: `MySQL/MariaDB (mysql2) and PostgreSQL (pg)`. */
const SUPPORTED = ENGINES.map((engine) => engine.name).join(' and ');

/** A guarded DataSource and what its engine presents of it. */
export interface GuardedDataSource {
  readonly name: string;
  readonly dataSource: DataSource;
  readonly guard: EngineGuard;
}

/**
 * Finds the TypeORM DataSources the module guards (`databases`, by @nestjs/typeorm name) and puts the
 * connection guard on each at start-up.
 */
@Injectable()
export class DataSourceRegistry implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new ResilienceLogger();
  private readonly guarded = new Map<string, GuardedDataSource>();
  /** Configured names whose DataSource is of an engine the module does not support: left alone, by type. */
  private readonly unsupported = new Map<string, string>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly classifier: ErrorClassifier,
    private readonly breakers: CircuitBreakerRegistry,
    private readonly events: ResilienceEvents,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {}

  onApplicationBootstrap(): void {
    for (const name of this.options.databases) {
      if (this.find(name)) continue;
      const type = this.unsupported.get(name);
      if (type === undefined) {
        this.logger.log(`No TypeORM DataSource named "${name}" in this app: its connections are not guarded`, {
          event: 'data-source-missing',
          database: name,
        });
      } else {
        this.logger.warn(
          `DataSource "${name}" is of type "${type}": ${SUPPORTED} are supported, so it is left ` +
            'alone (not guarded, not health-checked, no transaction() or execute() on it)',
          { event: 'data-source-unsupported', database: name, type: String(type) },
        );
      }
    }
  }

  onModuleDestroy(): void {
    for (const { guard } of this.guarded.values()) guard.dispose();
  }

  /** The guarded DataSource of that name; throws a clear error if the app has none. */
  get(name: string): GuardedDataSource {
    const found = this.find(name);
    if (found) return found;
    const type = this.unsupported.get(name);
    if (type !== undefined) {
      throw new Error(`DataSource "${name}" is of type "${type}": ${SUPPORTED} are supported`);
    }
    throw new Error(
      `No TypeORM DataSource named "${name}": import TypeOrmModule.forRoot(${name === 'default' ? '' : `{ name: '${name}', ... }`}) ` +
        `and list "${name}" in the module's \`databases\` option`,
    );
  }

  /** Whether the app has a TypeORM DataSource of that name. */
  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  /** The configured databases that have a TypeORM DataSource in this app. */
  list(): GuardedDataSource[] {
    return this.options.databases.map((name) => this.find(name)).filter((found) => found !== undefined);
  }

  /** The first configured database: what calls without a `database` use. */
  get defaultName(): string {
    return this.options.databases[0];
  }

  private find(name: string): GuardedDataSource | undefined {
    const known = this.guarded.get(name);
    if (known) return known;
    let dataSource: DataSource | undefined;
    try {
      dataSource = this.moduleRef.get<DataSource>(getDataSourceToken(name) as string, { strict: false });
    } catch {
      return undefined;
    }
    if (!dataSource) return undefined;
    const engine = ENGINES.find((candidate) => candidate.supports(dataSource));
    if (!engine) {
      this.unsupported.set(name, String(dataSource.options?.type));
      return undefined;
    }
    const guard = engine.guard(dataSource, name, {
      options: this.options,
      classifier: this.classifier,
      breaker: this.breakers.breaker(name),
      events: this.events,
    });
    this.breakers.setProber(name, () => guard.probe());
    const entry = { name, dataSource, guard };
    this.guarded.set(name, entry);
    return entry;
  }
}
