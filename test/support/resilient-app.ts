import type { AddressInfo } from 'node:net';
import { Injectable, type Provider } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  DatabaseResilienceModule,
  ResilienceEvents,
  ResilienceService,
  type ResilienceEvent,
} from 'nestjs-database-resilience';

export interface ResilientApp {
  module: TestingModule;
  resilience: ResilienceService;
  dataSource: DataSource;
  /** Every event the module emitted, in order. */
  events: ResilienceEvent[];
  /** With `controllers`: where the app listens (http://127.0.0.1:port). */
  url?: string;
  close(): Promise<void>;
}

/** A Nest app with TypeORM on the given server and database, and the resilience module, as a user wires them. */
export async function resilientApp(settings: {
  database: string;
  port?: number;
  poolSize?: number;
  entities?: Array<new () => object>;
  options?: Parameters<typeof DatabaseResilienceModule.forRoot>[0];
  providers?: Provider[];
  /** Served over HTTP on a free loopback port (`url`). */
  controllers?: Array<new (...args: never[]) => unknown>;
  /** PostgreSQL instead of MariaDB: the app's tables live in `schema` of the shared `test` database. */
  postgres?: { schema: string; extra?: Record<string, unknown>; replicaPort?: number };
  /** MariaDB with TypeORM replication: reads go to a replica on this port (or these). */
  replicaPort?: number | number[];
  /** MariaDB's user (root by default): one without SUPER is refused by a read-only server. */
  username?: string;
}): Promise<ResilientApp> {
  const common = { poolSize: settings.poolSize ?? 10, entities: settings.entities ?? [], retryAttempts: 0 };
  const connection: TypeOrmModuleOptions = settings.postgres
    ? {
        type: 'postgres',
        ...postgresServers(settings.port ?? 5432, settings.database, settings.postgres.replicaPort),
        schema: settings.postgres.schema,
        extra: { options: `-c search_path=${settings.postgres.schema}`, ...settings.postgres.extra },
        ...common,
      }
    : {
        type: 'mysql',
        ...mysqlServers(settings.port ?? 3306, settings.database, settings.replicaPort, settings.username),
        ...common,
      };
  const module = await Test.createTestingModule({
    imports: [TypeOrmModule.forRoot(connection), DatabaseResilienceModule.forRoot(settings.options ?? {})],
    providers: settings.providers ?? [],
    controllers: settings.controllers ?? [],
  })
    .setLogger(quietLogger)
    .compile();
  const http = settings.controllers ? module.createNestApplication({ logger: false }) : undefined;
  let url: string | undefined;
  try {
    if (http) {
      await http.listen(0, '127.0.0.1');
      url = `http://127.0.0.1:${(http.getHttpServer().address() as AddressInfo).port}`;
    } else await module.init();
  } catch (error) {
    await (http ?? module).close(); // the DataSource's pool would keep the test process alive
    throw error;
  }
  const events: ResilienceEvent[] = [];
  module.get(ResilienceEvents).subscribe((event) => events.push(event), { queries: true });
  return {
    module,
    resilience: module.get(ResilienceService),
    dataSource: module.get<DataSource>(getDataSourceToken()),
    events,
    url,
    close: () => (http ?? module).close(),
  };
}

@Injectable()
class QuietLogger {
  log() {}
  error() {}
  warn() {}
  debug() {}
  verbose() {}
}
const quietLogger = new QuietLogger();

/** One server, or TypeORM's replication: a primary and a standby. */
function postgresServers(port: number, database: string, replicaPort: number | undefined) {
  const server = (p: number) => ({ host: '127.0.0.1', port: p, username: 'postgres', database });
  if (replicaPort === undefined) return server(port);
  return { replication: { master: server(port), slaves: [server(replicaPort)] } };
}

/** One server, or TypeORM's replication: a primary and its replicas. */
function mysqlServers(port: number, database: string, replicaPort: number | number[] | undefined, username = 'root') {
  const server = (p: number) => ({ host: '127.0.0.1', port: p, username, password: '', database });
  if (replicaPort === undefined) return server(port);
  return { replication: { master: server(port), slaves: [replicaPort].flat().map(server) } };
}
