import type { DatabaseEngineName, DatabaseEnv } from '../../../../libs/shared/src/database-env';
import { GaleraCluster } from './galera-cluster';
import { MariaDbInstance } from './mariadb-instance';
import { PostgresInstance } from './postgres-instance';

/** A server of the CLI's own, from the installed binaries: to run against, restart, freeze or kill. */
export interface ThrowawayServer {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/** Each engine's throwaway server: its product name, its admin account, how to make one. */
export const THROWAWAY: Record<
  DatabaseEngineName,
  { product: string; user: string; create(): Promise<ThrowawayServer> }
> = {
  mysql: { product: 'MariaDB', user: 'root', create: () => MariaDbInstance.create() },
  postgres: { product: 'PostgreSQL', user: 'postgres', create: () => PostgresInstance.create() },
};

/** The settings that reach `server` (database `test`, the admin account, no password). */
export function envOf(engine: DatabaseEngineName, server: Pick<ThrowawayServer, 'port'>): DatabaseEnv {
  return {
    engine,
    host: '127.0.0.1',
    port: server.port,
    username: THROWAWAY[engine].user,
    password: '',
    database: 'test',
  };
}

/**
 * A three-node Galera cluster of the CLI's own (mariadbd with galera-4), reached at node 1: the scenarios provoke
 * errors with pairs of sessions that must meet on one node (Galera replicates write-sets, not locks). The cluster's
 * own faults (a node killed or desynced, certification conflicts between nodes) are `chaos --engine galera`'s.
 */
export async function galeraNode(): Promise<{ port: number; destroy(): Promise<void> }> {
  const cluster = await GaleraCluster.start();
  return { port: cluster.nodes[0].port, destroy: () => cluster.destroy() };
}
