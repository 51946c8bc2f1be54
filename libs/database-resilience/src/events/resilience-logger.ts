import { Logger } from '@nestjs/common';

/** The stable fields of one of the module's log lines (with `logs.json`); never values, never secrets. */
export interface LogFields {
  /** What happened, in kebab-case: `breaker-open`, `pool-saturated`, `redis-unavailable`... */
  readonly event: string;
  readonly database?: string;
  readonly category?: string;
  readonly code?: string;
  readonly [field: string]: string | number | boolean | undefined;
}

let json = false;

/** Set from `logs.json` when the module's options are read (one setting per process: the last module wins). */
export function useJsonLogs(on: boolean): void {
  json = on;
}

/**
 * The module's logger (context `DatabaseResilience`): a line of text, or with `logs.json` an object of stable
 * fields and the same text as `message`, which Nest's `ConsoleLogger({ json: true })` prints as one JSON line
 * and a structured logger (pino, winston) keeps as fields.
 */
export class ResilienceLogger {
  private readonly logger = new Logger('DatabaseResilience');

  log(message: string, fields: LogFields): void {
    this.logger.log(json ? { ...fields, message } : message);
  }

  warn(message: string, fields: LogFields): void {
    this.logger.warn(json ? { ...fields, message } : message);
  }

  error(message: string, fields: LogFields): void {
    this.logger.error(json ? { ...fields, message } : message);
  }
}
