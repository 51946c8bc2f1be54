import { Logger } from '@nestjs/common';
import { DataSource, type DataSourceOptions } from 'typeorm';

interface PoolMaker {
  Pool: new (options: object) => object;
}

interface PostgresDriverInternals {
  options?: { replication?: { master?: object } };
  postgres?: PoolMaker;
  createPool?: (options: object, credentials: object) => Promise<object>;
}

/**
 * A `dataSourceFactory` for `TypeOrmModule.forRootAsync()` that lets a PostgreSQL app with replication start while a
 * standby is down: TypeORM's own `initialize()` opens a connection on every standby's pool and fails if one does
 * not answer. Here a standby that does not answer keeps its pool (pg makes connections on demand) and start-up
 * goes on, with one warning; the module reads from the primary until the standby answers. Any other DataSource is
 * created and initialised as TypeORM does.
 *
 * ```ts
 * TypeOrmModule.forRootAsync({
 *   useFactory: () => ({ type: 'postgres', replication: { master, slaves } }),
 *   dataSourceFactory: replicaTolerantDataSource,
 * })
 * ```
 */
export async function replicaTolerantDataSource(options?: DataSourceOptions): Promise<DataSource> {
  if (!options) throw new Error('replicaTolerantDataSource needs the DataSource options');
  const dataSource = new DataSource(options);
  const driver = dataSource.driver as unknown as PostgresDriverInternals;
  const replication = options.type === 'postgres' ? options.replication : undefined;
  const pg = driver.postgres;
  const createPool = driver.createPool?.bind(driver);
  if (!replication || !pg || !createPool) return dataSource.initialize();

  let latest: object | undefined;
  // Only while initialising: the pools TypeORM makes are kept, so that a standby's survives its failed first connect.
  driver.postgres = Object.assign(Object.create(pg) as PoolMaker, {
    Pool: new Proxy(pg.Pool, {
      construct(target, args: [object]) {
        latest = Reflect.construct(target, args) as object;
        return latest;
      },
    }),
  });
  driver.createPool = async (poolOptions, credentials) => {
    latest = undefined;
    try {
      return await createPool(poolOptions, credentials);
    } catch (error) {
      if (credentials === driver.options?.replication?.master || latest === undefined) throw error;
      new Logger('DatabaseResilience').warn(
        'A standby did not answer at start-up: reads go to the primary until it does',
      );
      return latest;
    }
  };
  try {
    return await dataSource.initialize();
  } finally {
    driver.postgres = pg;
    driver.createPool = createPool;
  }
}
