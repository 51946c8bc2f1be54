import type { DatabaseEngine } from './database-engine';
import { mysqlEngine } from './mysql/mysql-engine';
import { postgresEngine } from './postgres/postgres-engine';

/** The engines the module can guard, tried in order for each DataSource. */
export const ENGINES: readonly DatabaseEngine[] = [mysqlEngine, postgresEngine];
