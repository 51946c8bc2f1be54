import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const promtool = (...args: string[]) => execFileSync('promtool', args, { cwd: root, encoding: 'utf8' });

/** The shipped alerting rules are valid and do what their unit tests say (`promtool test rules`). */
describe('Prometheus alerting rules', () => {
  it('pass promtool check rules', () => {
    expect(
      promtool('check', 'rules', 'libs/database-resilience/monitoring/prometheus/db-resilience.rules.yml'),
    ).toContain('SUCCESS: 7 rules found');
  });

  it("pass their unit tests: each fires on its condition after its 'for', and not on the near miss", () => {
    expect(promtool('test', 'rules', 'test/monitoring/db-resilience.rules.test.yml')).toContain('SUCCESS');
  });
});
