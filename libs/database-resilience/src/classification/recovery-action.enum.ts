/** What the module (or an operator) should do about an error. */
export enum RecoveryAction {
  RETRY = 'retry',
  RECONNECT = 'reconnect',
  FAILOVER = 'failover',
  CIRCUIT_BREAK = 'circuit_break',
  GRACEFUL_DEGRADE = 'graceful_degrade',
  MANUAL_INTERVENTION = 'manual_intervention',
}
