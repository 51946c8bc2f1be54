import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  accountIdSchema,
  openAccountSchema,
  transferSchema,
  type OpenAccount,
  type TransferRequest,
} from './accounts.schemas';
import { AccountsService } from './accounts.service';

@Controller()
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Get('accounts')
  list() {
    return this.accounts.list();
  }

  @Get('accounts/:id')
  get(@Param('id', { schema: accountIdSchema }) id: number) {
    return this.accounts.get(id);
  }

  @Post('accounts')
  open(@Body({ schema: openAccountSchema }) body: OpenAccount) {
    return this.accounts.open(body);
  }

  @Post('transfers')
  @HttpCode(201)
  transfer(@Body({ schema: transferSchema }) body: TransferRequest) {
    return this.accounts.transfer(body);
  }
}
