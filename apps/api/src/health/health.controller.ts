import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { DatabaseResilienceHealthIndicator } from 'nestjs-database-resilience';
import { DataSource } from 'typeorm';

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseResilienceHealthIndicator,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** Terminus: 200 while the database is up or degraded, 503 when it is down. */
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.database.isHealthy('database')]);
  }

  /** One `SELECT 1`: the smallest request that touches the database (benchmarks, load balancers). */
  @Get('ping')
  async ping() {
    await this.dataSource.query('SELECT 1');
    return { ok: true };
  }
}
