import { ErrorClassifier, type ClassifiedError } from 'nestjs-database-resilience';
import type { ServerTarget } from '../support/server-target';
import { MYSQL_ERROR_RECIPES } from './error-recipes';
import { POSTGRES_ERROR_RECIPES } from './postgres-error-recipes';
import type { CheckResult, Scenario } from './scenario-report';

/** Provokes each kind of error for real and checks that the classifier names it right. */
export class ClassificationScenario implements Scenario {
  readonly name = 'classification';
  readonly description =
    'provoke real errors (deadlock, lock wait, integrity, access, connection...) and classify them';

  /** `record` sees every error the scenario provoked and classified (the CLI's --stats counts them). */
  constructor(
    private readonly classifier: ErrorClassifier,
    private readonly target: ServerTarget,
    private readonly record: (error: ClassifiedError, recipe: string) => void = () => undefined,
  ) {}

  async run(onProgress: (check: CheckResult) => void) {
    const checks: CheckResult[] = [];
    const recipes = this.target.engine === 'postgres' ? POSTGRES_ERROR_RECIPES : MYSQL_ERROR_RECIPES;
    for (const recipe of recipes) {
      let check: CheckResult;
      try {
        const error = await recipe.provoke(this.target);
        const c = this.classifier.classify(error);
        this.record(c, recipe.name);
        const passed =
          c.category === recipe.expected.category &&
          (recipe.expected.errno === undefined || c.errno === recipe.expected.errno) &&
          (recipe.expected.code === undefined || c.code === recipe.expected.code) &&
          (recipe.expected.sqlState === undefined || c.sqlState === recipe.expected.sqlState);
        const id = c.errno ?? c.sqlState ?? c.code ?? '-';
        check = {
          name: recipe.name,
          passed,
          detail: `${id} → ${c.category}/${c.severity}/${c.action}, retry: ${c.scope}`,
        };
      } catch (error) {
        check = { name: recipe.name, passed: false, detail: `could not provoke it: ${(error as Error).message}` };
      }
      checks.push(check);
      onProgress(check);
    }
    return {
      checks,
      figures: {
        errorsProvoked: checks.length,
        classifiedRight: checks.filter((c) => c.passed).length,
      },
    };
  }
}
