import { redactMessage } from './redaction';

describe('redactMessage', () => {
  it('removes the password from a connection string and key=value settings', () => {
    expect(redactMessage('cannot reach mysql://app:hunter2@db:3306/x')).toBe('cannot reach mysql://app:***@db:3306/x');
    expect(redactMessage('bad config password=hunter2; host=db')).toBe('bad config password=***; host=db');
    expect(redactMessage("options { password: 'hunter2' }")).toBe('options { password: *** }');
  });

  it('keeps "(using password: YES)", which reveals nothing', () => {
    const message = "Access denied for user 'app'@'localhost' (using password: YES)";
    expect(redactMessage(message)).toBe(message);
  });

  it('replaces quoted values but keeps the names of keys, tables and columns', () => {
    expect(redactMessage("Duplicate entry 'alice@example.com' for key 'users.email'")).toBe(
      "Duplicate entry ? for key 'users.email'",
    );
    expect(redactMessage("Incorrect integer value: 'abc' for column `test`.`t`.`n` at row 1")).toBe(
      'Incorrect integer value: ? for column `test`.`t`.`n` at row 1',
    );
    expect(redactMessage("Data too long for column 'name' at row 1")).toBe("Data too long for column 'name' at row 1");
    expect(redactMessage("Table 'shop.nope' doesn't exist")).toBe("Table 'shop.nope' doesn't exist");
  });

  it('drops the SQL a syntax error echoes, quotes inside it included', () => {
    const message =
      "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'VALUS ('top-secret')' at line 1";
    expect(redactMessage(message)).not.toContain('top-secret');
    expect(redactMessage(message)).toMatch(/near \? at line 1$/);
  });
});
