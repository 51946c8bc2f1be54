import { ConfigurableModuleBuilder, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AdminSigner } from './admin/admin-access';
import { AdminAuthThrottle } from './admin/admin-auth-throttle';
import { AdminSessions } from './admin/admin-sessions';
import type { ResolvedResilienceOptions } from './options/options.schema';
import { RESILIENCE_OPTIONS } from './options/resilience-options.token';
import { AdminApiController } from './admin/admin-api.controller';
import { AdminPageController } from './admin/admin-page.controller';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { register } from 'prom-client';
import { DatabaseExceptionFilter } from './http/database-exception.filter';
import type { DatabaseResilienceOptions } from './options/database-resilience-options';
import { ResilienceOptionsError } from './options/resilience-options.error';

/** Options that decide what the module registers, so they sit beside the options (also in forRootAsync). */
export interface ModuleExtras {
  /** Import the module where needed instead. Default true. */
  isGlobal: boolean;
  /** Where `@willsoto/nestjs-prometheus` serves the metrics; false if the app imports PrometheusModule itself. Default `/metrics`. */
  metricsPath: string | false;
  /**
   * Also serve prom-client's process metrics (CPU, memory, event loop). Off by default: prom-client names three
   * gauges `nodejs_active_*_total`, which `promtool check metrics` rejects. Default false.
   */
  defaultMetrics: boolean;
  /**
   * Where the admin dashboard and REST API live (`<path>` the page, `<path>/api/...`, `<path>/metrics`);
   * false: not registered. Secure by default: without `admin.token` or `admin.authorize` every route answers 401.
   * Default `database-errors`.
   */
  adminPath: string | false;
  /** The app-wide exception filter that answers database errors. Default true. */
  exceptionFilter: boolean;
  /**
   * A middleware on every route: request ids, errors and slow queries tagged with request and route, the request
   * deadline (`http.requestDeadlineMs`), slow requests. Off by default: it carries the request through
   * AsyncLocalStorage, which on Node 20 adds about a tenth to a trivial request (see docs/BENCHMARKS.md).
   * Default false.
   */
  requestContext: boolean;
}

/** The extras as given at definition, for the module's own configure(). */
export const MODULE_EXTRAS = Symbol('database-resilience.module-extras');

const DEFAULT_EXTRAS: ModuleExtras = {
  isGlobal: true,
  metricsPath: '/metrics',
  defaultMetrics: false,
  adminPath: 'database-errors',
  exceptionFilter: true,
  requestContext: false,
};

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: RAW_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<DatabaseResilienceOptions>()
  .setClassMethodName('forRoot')
  .setExtras<Partial<ModuleExtras>>(DEFAULT_EXTRAS, withExtras)
  .build();

function withExtras(definition: DynamicModule, given: Partial<ModuleExtras>): DynamicModule {
  const extras = checkExtras({ ...DEFAULT_EXTRAS, ...given });
  const providers: Provider[] = [];
  if (extras.exceptionFilter) providers.push({ provide: APP_FILTER, useClass: DatabaseExceptionFilter });
  providers.push({ provide: MODULE_EXTRAS, useValue: extras });
  const imports = extras.metricsPath === false ? [] : [prometheusAt(extras.metricsPath, extras.defaultMetrics)];
  const controllers = extras.adminPath === false ? [] : adminAt(extras.adminPath);
  if (controllers.length > 0) {
    providers.push(
      {
        provide: AdminSigner,
        useFactory: (options: ResolvedResilienceOptions) => new AdminSigner(options.admin.token),
        inject: [RESILIENCE_OPTIONS],
      },
      AdminSessions,
      AdminAuthThrottle,
    );
  }
  return {
    ...definition,
    global: extras.isGlobal,
    imports: [...(definition.imports ?? []), ...imports],
    providers: [...(definition.providers ?? []), ...providers],
    controllers: [...(definition.controllers ?? []), ...controllers],
  };
}

/** prom-client refuses to collect the default (process) metrics twice in a process: a second app skips them. */
function prometheusAt(path: string, defaultMetrics: boolean): DynamicModule {
  const collecting = register.getSingleMetric('process_cpu_user_seconds_total') !== undefined;
  return PrometheusModule.register({ path, defaultMetrics: { enabled: defaultMetrics && !collecting } });
}

/** Nest's key for a controller's path (@nestjs/common's PATH_METADATA, not exported by its entry point). */
const PATH_METADATA = 'path';

/** The admin controllers, at the path given (Nest reads a controller's path from its metadata, per class). */
function adminAt(path: string): Array<new (...args: never[]) => unknown> {
  for (const controller of [AdminApiController, AdminPageController])
    Reflect.defineMetadata(PATH_METADATA, path, controller);
  return [AdminApiController, AdminPageController];
}

function checkExtras(extras: ModuleExtras): ModuleExtras {
  const problems: string[] = [];
  for (const key of ['isGlobal', 'defaultMetrics', 'exceptionFilter', 'requestContext'] as const)
    if (typeof extras[key] !== 'boolean') problems.push(`\`${key}\` must be true or false`);
  const { metricsPath } = extras;
  if (metricsPath !== false && (typeof metricsPath !== 'string' || !/^\/[\w\-/.]*$/.test(metricsPath)))
    problems.push('`metricsPath` must be false or a path starting with / (letters, digits, -, _, ., /)');
  const { adminPath } = extras;
  if (adminPath !== false && (typeof adminPath !== 'string' || !/^\/?[\w\-.]+(\/[\w\-.]+)*$/.test(adminPath)))
    problems.push('`adminPath` must be false or a path like database-errors or /ops/db (letters, digits, -, _, ., /)');
  if (problems.length > 0) throw new ResilienceOptionsError(problems);
  return extras;
}
