import {
  BadRequestException,
  Controller,
  Get,
  Header,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { register } from 'prom-client';
import { z } from 'zod';
import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { DeadlockAnalyticsService } from '../deadlock/deadlock-analytics.service';
import { DegradationService } from '../degradation/degradation.service';
import { DatabaseHealthService } from '../health/health-check.service';
import { ErrorStatisticsService } from '../history/error-statistics.service';
import { SlowQueryLog } from '../history/slow-query-log.service';
import { TimelineService } from '../history/timeline.service';
import { FleetView } from '../history/fleet-view.service';
import { DeadlockAdmissions } from '../retry/deadlock-admission';
import { PoolMonitor } from '../pool/pool-monitor';
import { ErrorCategory } from '../classification/error-category.enum';
import { Severity } from '../classification/severity.enum';
import { AdminAccessGuard } from './admin-access.guard';

const whole = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `must be from ${min} to ${max}` })
        .max(max, { error: `must be from ${min} to ${max}` }),
    )
    .optional()
    .transform((value) => value ?? fallback);
const instanceName = z
  .string()
  .regex(/^[\w.:@-]{1,128}$/, { error: 'must be an instance id (letters, digits, . _ : @ -)' });
const name = z.string().regex(/^[\w.-]{1,128}$/, { error: 'must be a database name (letters, digits, _ . -)' });

/** Parses one query parameter if given, or answers 400 naming it. */
function parseOptional<T>(schema: z.ZodType<T>, value: string | undefined, parameter: string): T | undefined {
  return value === undefined ? undefined : parse(schema, value, parameter);
}

/** Parses one query parameter, or answers 400 naming it. */
function parse<T>(schema: z.ZodType<T>, value: unknown, parameter: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new BadRequestException(`\`${parameter}\` ${result.error.issues[0]?.message ?? 'is invalid'}`);
}

/**
 * The admin REST API under the `adminPath` switch (default `/database-errors`): what the dashboard shows, and
 * the two things an operator does. Every route behind AdminAccessGuard; answers are never cached.
 */
@Controller()
@UseGuards(AdminAccessGuard)
export class AdminApiController {
  constructor(
    private readonly statistics: ErrorStatisticsService,
    private readonly slowQueries: SlowQueryLog,
    private readonly health: DatabaseHealthService,
    private readonly breakers: CircuitBreakerRegistry,
    private readonly deadlocks: DeadlockAnalyticsService,
    private readonly degradation: DegradationService,
    private readonly timeline: TimelineService,
    private readonly fleet: FleetView,
    private readonly admissions: DeadlockAdmissions,
    private readonly pools: PoolMonitor,
  ) {}

  /**
   * Every instance's errors through the shared Redis store, newest first, with the instance each met them on;
   * `scope: 'local'` (and why) when there is no shared store or Redis does not answer.
   */
  @Get('api/fleet/recent-errors')
  @Header('Cache-Control', 'no-store')
  fleetRecentErrors(
    @Query('limit') limit?: string,
    @Query('database') database?: string,
    @Query('instance') instance?: string,
  ) {
    return this.fleet.recentErrors(parse(whole(1, 1000, 50), limit, 'limit'), {
      database: parseOptional(name, database, 'database'),
      instance: parseOptional(instanceName, instance, 'instance'),
    });
  }

  /** The fleet's error counts over the window: by category, severity, database and instance. */
  @Get('api/fleet/statistics')
  @Header('Cache-Control', 'no-store')
  fleetStatistics(
    @Query('windowMinutes') windowMinutes?: string,
    @Query('database') database?: string,
    @Query('instance') instance?: string,
  ) {
    return this.fleet.statistics(parse(whole(1, 1440, 60), windowMinutes, 'windowMinutes'), {
      database: parseOptional(name, database, 'database'),
      instance: parseOptional(instanceName, instance, 'instance'),
    });
  }

  /**
   * The statements every instance met slow most often, and those that lost deadlocks most often, over the last
   * `hours` (the current one included), each with its instances' shares; `scope: 'local'` as above.
   */
  @Get('api/fleet/hot-spots')
  @Header('Cache-Control', 'no-store')
  fleetHotSpots(
    @Query('hours') hours?: string,
    @Query('database') database?: string,
    @Query('instance') instance?: string,
  ) {
    return this.fleet.hotSpotsOf(parse(whole(1, 24, 1), hours, 'hours'), {
      database: parseOptional(name, database, 'database'),
      instance: parseOptional(instanceName, instance, 'instance'),
    });
  }

  @Get('api/statistics')
  @Header('Cache-Control', 'no-store')
  getStatistics(@Query('windowMinutes') windowMinutes?: string, @Query('database') database?: string) {
    return {
      ...this.statistics.statistics({
        windowMinutes: parse(whole(1, 1440, 60), windowMinutes, 'windowMinutes'),
        database: parseOptional(name, database, 'database'),
      }),
      slowQueries: { top: this.slowQueries.top(10), recent: this.slowQueries.recent(20) },
    };
  }

  /** Repeated failures grouped (code, route, database: count, first and last seen), by severity, category, database. */
  @Get('api/incidents')
  @Header('Cache-Control', 'no-store')
  incidents(
    @Query('severity') severity?: string,
    @Query('category') category?: string,
    @Query('database') database?: string,
  ) {
    return this.statistics.incidents({
      severity: parseOptional(z.enum(Severity), severity, 'severity'),
      category: parseOptional(z.enum(ErrorCategory), category, 'category'),
      database: parseOptional(name, database, 'database'),
    });
  }

  /** Breaker transitions, degradation periods and health changes, newest first. */
  @Get('api/timeline')
  @Header('Cache-Control', 'no-store')
  getTimeline(@Query('hours') hours?: string, @Query('database') database?: string) {
    const sinceMs = Date.now() - parse(whole(1, 168, 24), hours, 'hours') * 3_600_000;
    return this.timeline.list({
      sinceMs,
      database: parseOptional(name, database, 'database'),
    });
  }

  @Get('api/recent-errors')
  @Header('Cache-Control', 'no-store')
  recentErrors(@Query('limit') limit?: string, @Query('database') database?: string) {
    return this.statistics.recentErrors(
      parse(whole(1, 1000, 50), limit, 'limit'),
      parseOptional(name, database, 'database'),
    );
  }

  @Get('api/health-check')
  @Header('Cache-Control', 'no-store')
  async healthCheck() {
    const known = this.health.lastResults();
    const databases = known.length > 0 ? known : await this.health.check();
    return { databases, degradation: this.degradation.state() };
  }

  @Get('api/circuit-breakers')
  @Header('Cache-Control', 'no-store')
  circuitBreakers() {
    const now = Date.now();
    return this.breakers.list().map((breaker) => ({
      ...breaker,
      nextProbeInMs: breaker.nextProbeAt === null ? null : Math.max(0, Date.parse(breaker.nextProbeAt) - now),
    }));
  }

  /**
   * The deadlock-aware admission limits (`deadlockAdmission`): per operation, `limit` null while none applies; and
   * the adaptive limit in front of each pool (`concurrencyLimit`), with borrows in flight, waiting and shed.
   */
  @Get('api/admission')
  @Header('Cache-Control', 'no-store')
  admission() {
    return {
      enabled: this.admissions.policy.enabled,
      operations: this.admissions.states(),
      pools: this.pools.concurrencyLimits(),
    };
  }

  @Get('api/deadlocks')
  @Header('Cache-Control', 'no-store')
  deadlockReport() {
    return this.deadlocks.report();
  }

  @Post('api/degradation/reset')
  @HttpCode(200)
  async resetDegradation() {
    await this.degradation.reset();
    return this.degradation.state();
  }

  @Post('api/circuit-breakers/:name/reset')
  @HttpCode(200)
  resetBreaker(@Param('name') breakerName: string) {
    const checked = parse(name, breakerName, 'name');
    if (!this.breakers.reset(checked)) throw new NotFoundException(`No circuit breaker named "${checked}"`);
    return this.breakers.list().find((breaker) => breaker.name === checked);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  @Header('Content-Type', register.contentType)
  metrics(): Promise<string> {
    return register.metrics();
  }
}
