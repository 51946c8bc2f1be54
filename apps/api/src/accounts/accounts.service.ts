import { Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Account } from './account.entity';
import type { OpenAccount, TransferRequest } from './accounts.schemas';
import { Transfer } from './transfer.entity';

@Injectable()
export class AccountsService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  list(): Promise<Account[]> {
    return this.dataSource.getRepository(Account).find({ order: { id: 'ASC' } });
  }

  async get(id: number): Promise<Account> {
    const account = await this.dataSource.getRepository(Account).findOneBy({ id });
    if (!account) throw new NotFoundException(`account ${id} not found`);
    return account;
  }

  open(request: OpenAccount): Promise<Account> {
    return this.dataSource.getRepository(Account).save(request);
  }

  /** Moves money between two accounts in one transaction. Rows are locked in request order, so that opposite
   *  transfers can deadlock: the demo needs real deadlocks for the module to handle. */
  transfer(request: TransferRequest): Promise<Transfer> {
    return this.dataSource.transaction(async (manager) => {
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
      return manager.save(Transfer, { fromId: from.id, toId: to.id, amount: request.amount });
    });
  }
}
