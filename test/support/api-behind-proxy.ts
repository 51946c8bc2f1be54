import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../apps/api/src/app.module';
import { configureApp } from '../../apps/api/src/configure-app';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { MariaDbInstance } from '../../apps/cli/src/support/mariadb-instance';

/** apps/api as it ships, on a MariaDB server of the test's own (to hang or stop) behind a fault proxy. */
export interface ApiBehindProxy {
  server: MariaDbInstance;
  proxy: FaultProxy;
  app: INestApplication;
  base: string;
  close(): Promise<void>;
}

/** apps/api's environment for these tests: the local server's account, the schema made by TypeORM. */
export const API_TEST_ENV = {
  DB_HOST: '127.0.0.1',
  DB_NAME: 'test',
  DB_USER: 'root',
  DB_PASSWORD: '',
  DB_SYNCHRONIZE: 'true',
  DATABASE_URL: '',
};

/** Starts it with the environment given (apps/api reads its options from there), restored by close(). */
export async function startApiBehindProxy(env: Record<string, string>): Promise<ApiBehindProxy> {
  const server = await MariaDbInstance.create();
  const proxy = await new FaultProxy('127.0.0.1', server.port).start();
  const saved: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries({ ...env, DB_PORT: String(proxy.port) })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = configureApp(moduleRef.createNestApplication({ logger: false }));
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  return {
    server,
    proxy,
    app,
    base,
    async close() {
      await app.close();
      await proxy.stop();
      await server.destroy();
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    },
  };
}
