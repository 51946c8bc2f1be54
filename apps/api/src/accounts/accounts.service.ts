import { Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ResilienceService, Retryable } from 'nestjs-database-resilience';
import { DataSource } from 'typeorm';
import { Account } from './account.entity';
import type { OpenAccount, TransferRequest } from './accounts.schemas';
import { Transfer } from './transfer.entity';

@Injectable()
export class AccountsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly resilience: ResilienceService,
  ) {}

  list(): Promise<Account[]> {
    return this.dataSource.getRepository(Account).find({ order: { id: 'ASC' } });
  }

  async get(id: number): Promise<Account> {
    const account = await this.dataSource.getRepository(Account).findOneBy({ id });
    if (!account) throw new NotFoundException(`account ${id} not found`);
    return account;
  }

  /** A single INSERT: retried whole after a deadlock or a connect failure, never after an ambiguous write. */
  @Retryable()
  open(request: OpenAccount): Promise<Account> {
    return this.dataSource.getRepository(Account).save(request);
  }

  /**
   * Moves money between two accounts in one transaction, re-run whole after a deadlock or a lost connection.
   * Rows are locked in request order, so that opposite transfers can deadlock: the demo needs real deadlocks.
   * With an idempotency key, a commit whose outcome is unknown is settled instead of failing.
   */
  transfer(request: TransferRequest, idempotencyKey?: string): Promise<Transfer> {
    return this.resilience.transaction(
      async (manager) => {
        const lock = (id: number) =>
          manager
            .getRepository(Account)
            .createQueryBuilder('a')
            .setLock('pessimistic_write')
            .where('a.id = :id', { id })
            .getOne();
        const from = await lock(request.fromId);
        const to = await lock(request.toId);
        if (!from || !to) throw new NotFoundException(`account ${from ? request.toId : request.fromId} not found`);
        if (from.balance < request.amount) throw new UnprocessableEntityException('insufficient funds');
        await manager.increment(Account, { id: from.id }, 'balance', -request.amount);
        await manager.increment(Account, { id: to.id }, 'balance', request.amount);
        return manager.save(Transfer, {
          fromId: from.id,
          toId: to.id,
          amount: request.amount,
          idempotencyKey: idempotencyKey ?? null,
        });
      },
      { operation: 'transfer', idempotencyKey },
    );
  }
}
