import { ConsoleLogger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CircuitBreakerRegistry, DatabaseResilienceModule } from 'nestjs-database-resilience';

interface JsonLine {
  level: string;
  context?: string;
  message: unknown;
}

/** What an app with Nest's ConsoleLogger in JSON mode prints while the module opens and closes a breaker. */
async function linesOf(json: boolean): Promise<JsonLine[]> {
  const printed: string[] = [];
  const capture = (chunk: unknown) => {
    printed.push(String(chunk));
    return true;
  };
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    const module = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'mysql',
          host: '127.0.0.1',
          port: 3306,
          username: 'root',
          password: '',
          database: 'test',
          retryAttempts: 0,
        }),
        DatabaseResilienceModule.forRoot({ healthCheck: { enabled: false }, logs: { json } }),
      ],
    })
      .setLogger(new ConsoleLogger({ json: true, colors: false }))
      .compile();
    await module.init();
    const breakers = module.get(CircuitBreakerRegistry);
    breakers.forceOpen('default');
    breakers.reset('default');
    await module.close();
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return printed
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as JsonLine)
    .filter((line) => line.context === 'DatabaseResilience');
}

describe('logs.json: the module’s log lines as objects with stable fields', () => {
  it('with logs.json, a breaker opening is one JSON line with event, database and the sentence', async () => {
    const lines = await linesOf(true);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: {
          event: 'breaker-open',
          database: 'default',
          message: expect.stringContaining('Circuit breaker "default" is now open'),
        },
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ message: expect.objectContaining({ event: 'breaker-closed', database: 'default' }) }),
    );
    // Every line of the module carries an event name: none is left a bare sentence.
    expect(lines.filter((line) => typeof (line.message as { event?: unknown }).event !== 'string')).toEqual([]);
  });

  it('without it, the same line is a sentence (the default)', async () => {
    const lines = await linesOf(false);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: expect.stringContaining('Circuit breaker "default" is now open'),
      }),
    );
  });
});
