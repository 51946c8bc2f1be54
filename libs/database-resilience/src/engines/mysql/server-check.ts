import { CheckTimeoutError } from '../check-timeout.error';
import type { ServerCheck } from '../database-engine';
import type { Mysql2Connection } from './mysql2-connection';

/**
 * Borrows a connection, runs `statements` on it in turn and hands the last result to `read`, all within
 * `timeoutMs`. A connection that answers after the timeout, or not at all, is destroyed, never pooled again:
 * a hung server must not leave hung connections behind.
 */
export function timedCheck<T>(
  obtain: () => Promise<Mysql2Connection>,
  statements: string[],
  timeoutMs: number,
  read: (rows: unknown) => T,
): Promise<ServerCheck & { value?: T }> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let connection: Mysql2Connection | undefined;
    const finish = (result: { error?: unknown; value?: T }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const latencyMs = Math.round((performance.now() - startedAt) * 10) / 10;
      resolve(
        result.error === undefined ? { up: true, latencyMs, value: result.value } : { up: false, latencyMs, ...result },
      );
    };
    const timer = setTimeout(() => {
      connection?.destroy();
      finish({ error: new CheckTimeoutError(timeoutMs) });
    }, timeoutMs);
    obtain().then(
      (obtained) => {
        if (settled) return obtained.destroy();
        connection = obtained;
        const run = (index: number, rows: unknown): void => {
          if (index === statements.length) {
            if (settled) return obtained.destroy();
            obtained.release();
            try {
              return finish({ value: read(rows) });
            } catch (error) {
              return finish({ error });
            }
          }
          obtained.query(statements[index], (error: unknown, result: unknown) => {
            if (settled) return obtained.destroy();
            if (error) {
              obtained.destroy();
              return finish({ error });
            }
            run(index + 1, result);
          });
        };
        run(0, undefined);
      },
      (error: unknown) => finish({ error }),
    );
  });
}

/** Seconds a replica is behind its primary (MariaDB, MySQL 5.7–8.x), or null if it does not replicate. */
export function replicationLagOf(rows: unknown): number | null {
  const row = Array.isArray(rows) ? (rows[0] as Record<string, unknown> | undefined) : undefined;
  const lag = row?.Seconds_Behind_Master ?? row?.Seconds_Behind_Source;
  return typeof lag === 'number' ? lag : lag === null || lag === undefined ? null : Number(lag);
}
