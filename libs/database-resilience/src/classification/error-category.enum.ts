/** What kind of failure an error is. */
export enum ErrorCategory {
  /** Refused, reset, lost, killed or timed-out connections; the server is unreachable or went away. */
  CONNECTION = 'connection',
  /** Bad credentials, missing privileges, host blocked. */
  AUTHENTICATION = 'authentication',
  /** Unknown database and other setup mistakes. */
  CONFIGURATION = 'configuration',
  /** Deadlock victim or serialization failure: the server rolled the whole transaction back. */
  DEADLOCK = 'deadlock',
  /** Lock wait timeout (the statement was rolled back, the transaction stays open). */
  LOCK_TIMEOUT = 'lock_timeout',
  /** A server or client statement deadline ran out. */
  STATEMENT_TIMEOUT = 'statement_timeout',
  /** The statement was interrupted (KILL QUERY). */
  INTERRUPTED = 'interrupted',
  /** Duplicate key, foreign key, check constraint. */
  INTEGRITY = 'integrity',
  /** Invalid data: NULL in NOT NULL, too long, out of range, bad value. */
  DATA = 'data',
  /** Unknown table or column: the schema does not match the code. */
  SCHEMA = 'schema',
  /** SQL the server cannot parse. */
  SYNTAX = 'syntax',
  /** Too many connections or transactions, a full pool queue: the server or pool is overloaded. */
  OVERLOAD = 'overload',
  /** Disk, memory or lock table exhausted. */
  RESOURCE = 'resource',
  /** The server is read-only (a demoted primary, a replica, a failover in progress). */
  READ_ONLY = 'read_only',
  /** The connection failed after COMMIT was sent: nobody knows whether it committed. */
  COMMIT_OUTCOME_UNKNOWN = 'commit_outcome_unknown',
  /** The module's circuit breaker rejected the call without touching the server. */
  CIRCUIT_OPEN = 'circuit_open',
  UNKNOWN = 'unknown',
}
