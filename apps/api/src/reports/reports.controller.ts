import { Controller, Get } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { NonEssential } from 'nestjs-database-resilience';
import { DataSource } from 'typeorm';

/** Reports are nice to have: while the database is in trouble they step aside for transfers. */
@Controller('reports')
@NonEssential()
export class ReportsController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get('summary')
  async summary() {
    const [accounts] = await this.dataSource.query(
      'SELECT COUNT(*) AS n, COALESCE(SUM(balance), 0) AS total FROM account',
    );
    const [transfers] = await this.dataSource.query('SELECT COUNT(*) AS n FROM transfer');
    return { accounts: Number(accounts.n), totalBalance: Number(accounts.total), transfers: Number(transfers.n) };
  }
}
