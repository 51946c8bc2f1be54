import type { z } from 'zod';
import type { ClassificationRule } from '../classification/classification-rule';
import type { ErrorCategory } from '../classification/error-category.enum';
import type { Severity } from '../classification/severity.enum';
import type { SharedStateStore } from '../shared-state/shared-state-store';
import type { DatabaseResilienceOptions } from './database-resilience-options';
import type { optionsSchema } from './options.schema';

/**
 * The option interface (where each option is documented for users' editors) and the schema cannot disagree: an
 * option added to, dropped from or typed differently in one of them fails to compile here. (The interface takes
 * enum values as their strings, as the schema does at run time.)
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type AsStrings<T> = T extends ErrorCategory
  ? `${ErrorCategory}`
  : T extends Severity
    ? `${Severity}`
    : T extends SharedStateStore | ClassificationRule | ((...args: never[]) => unknown) | RegExp
      ? T
      : T extends ReadonlyArray<infer E>
        ? Array<AsStrings<E>>
        : T extends object
          ? { [K in keyof T]: AsStrings<T[K]> }
          : T;
/** Where two option types disagree (their path, e.g. `options.retry.extra(keys)`), or never. */
type Disagreement<A, B, P extends string> =
  Same<A, B> extends false
    ? P
    : [NonNullable<A>] extends [
          SharedStateStore | ClassificationRule | ((...args: never[]) => unknown) | RegExp | ReadonlyArray<unknown>,
        ]
      ? never
      : NonNullable<A> extends object
        ? Same<keyof NonNullable<A>, keyof NonNullable<B>> extends false
          ? `${P}(keys)`
          : {
              [K in keyof NonNullable<A>]-?: Disagreement<
                NonNullable<A>[K],
                NonNullable<B>[K & keyof NonNullable<B>],
                `${P}.${K & string}`
              >;
            }[keyof NonNullable<A>]
        : never;
type OptionsDisagreement = Disagreement<AsStrings<z.input<typeof optionsSchema>>, DatabaseResilienceOptions, 'options'>;
/** Fails to compile, naming the option, when the interface and the schema disagree. */
export const OPTIONS_AGREE: [OptionsDisagreement] extends [never] ? true : OptionsDisagreement = true;
