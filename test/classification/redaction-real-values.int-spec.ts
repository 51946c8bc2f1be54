import fc from 'fast-check';
import { ErrorClassifier } from 'nestjs-database-resilience';
import { useScratchDatabase } from '../support/scratch-database';

/**
 * Values never reach what the module records: arbitrary values (quotes, backslashes, newlines, any script) go
 * into a real duplicate key and a real bad value on MariaDB, and the message the classifier records (what the
 * history, the admin API, the dashboard, logs and e-mails show) holds none of it, in every shape.
 */
describe('redaction of values in real MariaDB messages (property-based)', () => {
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  let db: Awaited<ReturnType<typeof scratch.connect>>;
  const classifier = new ErrorClassifier();

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_it_redact');
    db = await scratch.connect();
    await db.query(
      'CREATE TABLE person (name VARCHAR(200) CHARACTER SET utf8mb4 PRIMARY KEY, age INT, born DATE) ENGINE=InnoDB',
    );
  });

  afterAll(async () => {
    await db?.end();
    await scratch?.restoreEnv();
  });

  const failure = async (sql: string, values: unknown[]) => {
    try {
      await db.query(sql, values);
    } catch (error) {
      return error;
    }
    throw new Error('expected the statement to fail');
  };

  /** A value with markers at both ends: neither end may survive, nor anything between. */
  const values = fc
    .string({ unit: 'grapheme', minLength: 0, maxLength: 30 })
    .map((core) => `MARK${core}KRAM`)
    .filter((v) => !v.includes('\u0000'));

  it('duplicate entry: the recorded message is the template, whatever the value', async () => {
    await fc.assert(
      fc.asyncProperty(values, async (value) => {
        await db.query('DELETE FROM person');
        await db.query('INSERT INTO person (name) VALUES (?)', [value]);
        const error = await failure('INSERT INTO person (name) VALUES (?)', [value]);
        const message = classifier.classify(error).message;
        expect(message).toBe("Duplicate entry ? for key 'PRIMARY'");
      }),
      { numRuns: 60, seed: 4711, examples: [["MARKq'SECRET'zKRAM"], ["MARKO'BrienKRAM"], ['MARK\'\\\n"KRAM']] },
    );
  });

  it.each([
    [
      'incorrect integer',
      'INSERT INTO person (name, age) VALUES (?, ?)',
      /^Incorrect integer value: \? for column `\w+`\.`person`\.`age` at row 1$/,
    ],
    [
      'incorrect date',
      'INSERT INTO person (name, born) VALUES (?, ?)',
      /^Incorrect date value: \? for column `\w+`\.`person`\.`born` at row 1$/,
    ],
  ])('%s value: the recorded message holds none of it', async (_shape, sql, template) => {
    await fc.assert(
      fc.asyncProperty(values, async (value) => {
        const error = await failure(sql, ['someone', value]);
        const message = classifier.classify(error).message;
        expect(message).toMatch(template);
        expect(message).not.toMatch(/MARK|KRAM/);
      }),
      { numRuns: 40, seed: 4711, examples: [["MARKq'SECRET'zKRAM"]] },
    );
  });
});
