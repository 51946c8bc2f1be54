import { ErrorCategory as C } from './error-category.enum';
import { RecoveryAction as A } from './recovery-action.enum';
import { RetryScope as S } from './retry-scope.enum';
import { Severity as V } from './severity.enum';

/**
 * What one kind of error means. The data behind the classifier, from the MySQL and MariaDB error references
 * (see docs/ARCHITECTURE.md, "Error catalogue"). Severity follows the promise made to users:
 * critical = unreachable server or refused credentials, high = deadlocks, timeouts and exhaustion,
 * medium = integrity and data errors, low = anything generic.
 */
export interface CatalogueEntry {
  /** The server's symbolic name (ER_...) or the client's code. */
  readonly name: string;
  readonly category: C;
  readonly severity: V;
  readonly action: A;
  readonly scope: S;
  /** The failure says the server is unwell (it counts toward a circuit breaker); caller errors never do. */
  readonly serverUnwell: boolean;
  /** Set when MySQL and MariaDB give one errno different meanings: the entry applies only if this matches. */
  readonly message?: RegExp;
}

type Extra = Partial<Pick<CatalogueEntry, 'serverUnwell' | 'message'>>;

export function entry(name: string, category: C, severity: V, action: A, scope: S, extra: Extra = {}): CatalogueEntry {
  const unwellByDefault = category === C.CONNECTION || category === C.OVERLOAD || category === C.RESOURCE;
  return Object.freeze({ name, category, severity, action, scope, serverUnwell: unwellByDefault, ...extra });
}

export const deadlock = (name: string) => entry(name, C.DEADLOCK, V.HIGH, A.RETRY, S.TRANSACTION);
export const lost = (name: string, severity = V.CRITICAL) =>
  entry(name, C.CONNECTION, severity, A.RECONNECT, S.CONNECTION);
export const integrity = (name: string) => entry(name, C.INTEGRITY, V.MEDIUM, A.MANUAL_INTERVENTION, S.NEVER);
export const data = (name: string) => entry(name, C.DATA, V.MEDIUM, A.MANUAL_INTERVENTION, S.NEVER);
export const schema = (name: string) => entry(name, C.SCHEMA, V.HIGH, A.MANUAL_INTERVENTION, S.NEVER);
export const syntax = (name: string) => entry(name, C.SYNTAX, V.MEDIUM, A.MANUAL_INTERVENTION, S.NEVER);
export const denied = (name: string) => entry(name, C.AUTHENTICATION, V.CRITICAL, A.MANUAL_INTERVENTION, S.NEVER);
export const readOnly = (name: string) =>
  entry(name, C.READ_ONLY, V.HIGH, A.FAILOVER, S.CONNECTION, { serverUnwell: true });
export const overload = (name: string) => entry(name, C.OVERLOAD, V.HIGH, A.CIRCUIT_BREAK, S.CONNECTION);
export const exhausted = (name: string, scope = S.NEVER) =>
  entry(name, C.RESOURCE, V.HIGH, scope === S.NEVER ? A.MANUAL_INTERVENTION : A.RETRY, scope);

/** What is not known: never retried, answered 500. */
export const UNKNOWN_ENTRY = entry('UNKNOWN', C.UNKNOWN, V.LOW, A.MANUAL_INTERVENTION, S.NEVER);
