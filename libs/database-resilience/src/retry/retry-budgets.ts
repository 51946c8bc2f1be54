import { Inject, Injectable } from '@nestjs/common';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { RetryBudget } from './retry-budget';

/** One retry budget per database (`retryBudget` options): the configured ones at start, others on first use. */
@Injectable()
export class RetryBudgets {
  private readonly budgets = new Map<string, RetryBudget>();

  constructor(@Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions) {
    for (const database of options.databases) this.get(database); // their metrics start at 0
  }

  get(database: string): RetryBudget {
    let budget = this.budgets.get(database);
    if (!budget) this.budgets.set(database, (budget = new RetryBudget(this.options.retryBudget)));
    return budget;
  }

  /** Budgets in use, by database (for the metrics). */
  entries(): IterableIterator<[string, RetryBudget]> {
    return this.budgets.entries();
  }
}
