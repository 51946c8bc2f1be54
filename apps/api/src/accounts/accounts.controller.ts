import { BadRequestException, Body, Controller, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import {
  idempotencyKeySchema,
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
  transfer(
    @Body({ schema: transferSchema }) body: TransferRequest,
    @Headers('idempotency-key') idempotencyKey?: string,
  ) {
    const key = idempotencyKeySchema.safeParse(idempotencyKey);
    if (!key.success) throw new BadRequestException('Idempotency-Key must be 1 to 191 characters');
    return this.accounts.transfer(body, key.data);
  }
}
