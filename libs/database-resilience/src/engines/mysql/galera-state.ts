import type { ClusterNodeState } from '../database-engine';

/** A Galera node's view of itself. On MariaDB without a wsrep provider `wsrep_local_state` is absent, on MySQL all. */
export const GALERA_STATE_SQL =
  'SHOW GLOBAL STATUS WHERE Variable_name IN (' +
  "'wsrep_local_state', 'wsrep_local_state_comment', 'wsrep_ready', 'wsrep_cluster_status', 'wsrep_cluster_size', " +
  "'wsrep_flow_control_paused', 'wsrep_local_cert_failures', 'wsrep_local_bf_aborts')";

/** Galera's number for Synced (`wsrep_local_state`). */
const SYNCED = 4;

/** The node's state from {@link GALERA_STATE_SQL}'s rows; null when the server is not a Galera node. */
export function galeraStateOf(rows: Array<Record<string, unknown>>): ClusterNodeState | null {
  const status = new Map<string, string>();
  for (const row of rows) {
    const name = row.Variable_name ?? row.variable_name;
    if (typeof name === 'string') status.set(name.toLowerCase(), String(row.Value ?? row.value ?? ''));
  }
  const local = status.get('wsrep_local_state');
  if (local === undefined || local === '') return null;
  const ready = status.get('wsrep_ready') === 'ON';
  const component = status.get('wsrep_cluster_status') ?? '';
  const count = (name: string) => Number(status.get(name)) || 0;
  return {
    state: status.get('wsrep_local_state_comment') ?? local,
    synced: Number(local) === SYNCED && ready && component === 'Primary',
    ready,
    component,
    clusterSize: count('wsrep_cluster_size'),
    flowControlPaused: count('wsrep_flow_control_paused'),
    conflicts: count('wsrep_local_cert_failures') + count('wsrep_local_bf_aborts'),
  };
}
