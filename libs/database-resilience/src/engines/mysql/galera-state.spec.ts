import { galeraStateOf } from './galera-state';

const rows = (status: Record<string, string>) =>
  Object.entries(status).map(([Variable_name, Value]) => ({ Variable_name, Value }));

describe('galeraStateOf', () => {
  it("reads a Galera node's own account (as SHOW GLOBAL STATUS answers on MariaDB 10.11 with galera-4)", () => {
    const synced = galeraStateOf(
      rows({
        wsrep_local_state: '4',
        wsrep_local_state_comment: 'Synced',
        wsrep_ready: 'ON',
        wsrep_cluster_status: 'Primary',
        wsrep_cluster_size: '3',
        wsrep_flow_control_paused: '0.25',
        wsrep_local_cert_failures: '1',
        wsrep_local_bf_aborts: '2',
      }),
    );
    expect(synced).toEqual({
      state: 'Synced',
      synced: true,
      ready: true,
      component: 'Primary',
      clusterSize: 3,
      flowControlPaused: 0.25,
      conflicts: 3,
    });
  });

  it('a desynced node, or one out of the primary component, is not Synced', () => {
    const desynced = galeraStateOf(
      rows({
        wsrep_local_state: '2',
        wsrep_local_state_comment: 'Donor/Desynced',
        wsrep_ready: 'ON',
        wsrep_cluster_status: 'Primary',
      }),
    );
    expect(desynced).toMatchObject({ state: 'Donor/Desynced', synced: false, ready: true });
    const isolated = galeraStateOf(
      rows({
        wsrep_local_state: '0',
        wsrep_local_state_comment: 'Initialized',
        wsrep_ready: 'OFF',
        wsrep_cluster_status: 'non-Primary',
      }),
    );
    expect(isolated).toMatchObject({ synced: false, ready: false, component: 'non-Primary' });
  });

  it('a server that is no Galera node: null (MariaDB without a provider still shows wsrep_ready OFF)', () => {
    expect(
      galeraStateOf(rows({ wsrep_ready: 'OFF', wsrep_cluster_status: 'Disconnected', wsrep_cluster_size: '0' })),
    ).toBeNull();
    expect(galeraStateOf([])).toBeNull();
  });
});
