import { Controller, Get } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** The smallest request that touches the database: the HTTP benchmarks' app, with and without the module. */
@Controller()
export class PingController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get('ping')
  async ping() {
    await this.dataSource.query('SELECT 1');
    return { ok: true };
  }
}
