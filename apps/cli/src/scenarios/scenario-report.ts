/** One check a scenario made, pass or fail, with what it saw. */
export interface CheckResult {
  name: string;
  passed: boolean;
  detail: string;
}

/** What a scenario reports: pass or fail, its checks and its figures (counts, times). */
export interface ScenarioReport {
  scenario: string;
  passed: boolean;
  durationMs: number;
  checks: CheckResult[];
  figures: Record<string, number>;
}

/** A scenario of `test-error-handling`. `onProgress` gets each check as it completes. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  run(onProgress: (check: CheckResult) => void): Promise<Omit<ScenarioReport, 'scenario' | 'durationMs' | 'passed'>>;
}

/** The checks of a scenario run: each one reported as it is made. */
export class CheckList {
  readonly all: CheckResult[] = [];

  constructor(private readonly onProgress: (check: CheckResult) => void) {}

  add(name: string, passed: boolean, detail: string): void {
    const check = { name, passed, detail };
    this.all.push(check);
    this.onProgress(check);
  }
}
