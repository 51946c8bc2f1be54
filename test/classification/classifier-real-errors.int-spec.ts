import { DataSource, QueryFailedError } from 'typeorm';
import { ErrorCategory, ErrorClassifier, RetryScope, Severity } from 'nestjs-database-resilience';
import { closedPort, MYSQL_ERROR_RECIPES } from '../../apps/cli/src/scenarios/error-recipes';
import { ServerTarget, waitUntil } from '../../apps/cli/src/support/server-target';
import { databaseEnv } from '../../libs/shared/src/database-env';

describe('ErrorClassifier on real MariaDB errors', () => {
  const classifier = new ErrorClassifier();
  let target: ServerTarget;

  beforeAll(async () => {
    target = await ServerTarget.createScratch(databaseEnv(), 'dr_it_classify');
  });
  afterAll(() => target?.dropScratch());

  it.each(MYSQL_ERROR_RECIPES.map((r) => [r.name, r] as const))('%s', async (_name, recipe) => {
    const error = await recipe.provoke(target);
    const classified = classifier.classify(error);
    expect(classified.category).toBe(recipe.expected.category);
    if (recipe.expected.errno !== undefined) expect(classified.errno).toBe(recipe.expected.errno);
    if (recipe.expected.code !== undefined) expect(classified.code).toBe(recipe.expected.code);
    expect(classified.matchedBy).not.toBe('none');
  });

  describe('through TypeORM', () => {
    let dataSource: DataSource;

    beforeAll(async () => {
      const { host, port, username, password } = target.env;
      dataSource = new DataSource({
        type: 'mysql',
        host,
        port,
        username,
        password,
        database: target.database,
        poolSize: 4,
      });
      await dataSource.initialize();
      await dataSource.query('CREATE TABLE typeorm_t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB');
      await dataSource.query('INSERT INTO typeorm_t VALUES (1,0),(2,0),(3,0)');
    });
    afterAll(() => dataSource?.destroy());

    it('classifies a deadlock surfaced by DataSource.transaction as a QueryFailedError', async () => {
      const heavy = dataSource.createQueryRunner();
      try {
        await heavy.startTransaction();
        await heavy.query('UPDATE typeorm_t SET v=v+1 WHERE id IN (1,3)'); // more rows locked: never the victim
        let victimHoldsRow2!: () => void;
        const row2Locked = new Promise<void>((resolve) => (victimHoldsRow2 = resolve));
        const victim = dataSource.transaction(async (manager) => {
          await manager.query('SET SESSION innodb_lock_wait_timeout = 10');
          await manager.query('UPDATE typeorm_t SET v=v+1 WHERE id=2');
          victimHoldsRow2();
          await waitUntil(async () => {
            const [row] = await dataSource.query(
              "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state='LOCK WAIT'",
            );
            return Number(row.n) >= 1;
          }, 'the heavy transaction to wait');
          await manager.query('UPDATE typeorm_t SET v=v+1 WHERE id=1');
        });
        await row2Locked;
        const blocked = heavy.query('UPDATE typeorm_t SET v=v+1 WHERE id=2');
        const error = await victim.then(
          () => undefined,
          (e: unknown) => e,
        );
        await blocked;
        await heavy.commitTransaction();
        expect(error).toBeInstanceOf(QueryFailedError);
        expect(classifier.classify(error)).toMatchObject({
          category: ErrorCategory.DEADLOCK,
          severity: Severity.HIGH,
          scope: RetryScope.TRANSACTION,
          errno: 1213,
          sql: 'UPDATE typeorm_t SET v=v+? WHERE id=?',
        });
      } finally {
        await heavy.release();
      }
    });

    it('classifies the raw connect error TypeORM does not wrap', async () => {
      const unreachable = new DataSource({
        type: 'mysql',
        host: '127.0.0.1',
        port: await closedPort(),
        username: 'root',
      });
      const error = await unreachable.initialize().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).not.toBeInstanceOf(QueryFailedError);
      expect(classifier.classify(error)).toMatchObject({
        category: ErrorCategory.CONNECTION,
        severity: Severity.CRITICAL,
        code: 'ECONNREFUSED',
      });
    });

    it('keeps the values of a failed INSERT out of the classification', async () => {
      await dataSource.query('CREATE TABLE secrets (token VARCHAR(40) PRIMARY KEY)');
      await dataSource.query('INSERT INTO secrets VALUES (?)', ['tok-7f3a-very-secret']);
      const error = await dataSource
        .query('INSERT INTO secrets VALUES (?)', ['tok-7f3a-very-secret'])
        .catch((e: unknown) => e);
      const json = JSON.stringify(classifier.classify(error));
      expect(json).toContain('"category":"integrity"');
      expect(json).not.toContain('very-secret');
    });
  });
});
