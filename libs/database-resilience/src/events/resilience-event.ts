import type { AlertRule } from './alert';
import type { ClassifiedError } from '../classification/classified-error';

/** What a statement does to the transaction state and to data, read from its first keyword. */
export type StatementKind = 'begin' | 'commit' | 'rollback' | 'read' | 'write' | 'session';

/** A failed attempt of a guarded unit of work, classified once. */
export interface AttemptFailedEvent {
  readonly type: 'attempt-failed';
  readonly at: number;
  /** The same for every attempt of one call of a unit of work. */
  readonly unitId: number;
  readonly database: string;
  readonly operation: string | undefined;
  readonly requestId: string | undefined;
  /** The route pattern of the HTTP request, when the module's interceptor saw one. */
  readonly route?: string;
  readonly attempt: number;
  readonly error: ClassifiedError;
  /** Whether the unit will be run again. */
  readonly willRetry: boolean;
  /** Delay before that retry. */
  readonly delayMs?: number;
}

/** A unit of work that succeeded after failed attempts. */
export interface RecoveredEvent {
  readonly type: 'recovered';
  readonly at: number;
  readonly unitId: number;
  readonly database: string;
  readonly operation: string | undefined;
  readonly attempts: number;
}

/** A commit whose outcome was unknown, and what settling it found. */
export interface CommitSettledEvent {
  readonly type: 'commit-settled';
  readonly at: number;
  readonly database: string;
  readonly operation: string | undefined;
  readonly committed: boolean;
}

/** More deadlocks on a database than `deadlocks.clusterThreshold` within `deadlocks.clusterWindowMs`. */
export interface DeadlockClusterEvent {
  readonly type: 'deadlock-cluster';
  readonly at: number;
  readonly database: string;
  readonly deadlocks: number;
  readonly windowMs: number;
}

/** A circuit breaker's state. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** A circuit breaker changed state (emitted by the breakers). */
export interface BreakerStateEvent {
  readonly type: 'breaker-state';
  readonly at: number;
  readonly database: string;
  readonly state: CircuitState;
}

/** An open breaker turned a call away without touching the server (emitted in the caller's async context). */
export interface BreakerRejectedEvent {
  readonly type: 'breaker-rejected';
  readonly at: number;
  readonly database: string;
}

/** Graceful degradation turned on or off (emitted by the degradation service). */
export interface DegradationEvent {
  readonly type: 'degradation';
  readonly at: number;
  readonly database: string;
  readonly degraded: boolean;
  readonly reason: string;
}

/** A statement on a guarded DataSource finished (emitted by the connection guard for every statement). */
export interface QueryEvent {
  readonly type: 'query';
  readonly at: number;
  readonly database: string;
  readonly kind: StatementKind;
  readonly durationMs: number;
  readonly failed: boolean;
}

/** A statement took longer than `queries.slowQueryMs`. */
export interface SlowQueryEvent {
  readonly type: 'slow-query';
  readonly at: number;
  readonly database: string;
  /** The statement with its values replaced by `?`. */
  readonly fingerprint: string;
  readonly durationMs: number;
  readonly requestId: string | undefined;
  readonly route: string | undefined;
}

/** An HTTP request took longer than `http.slowRequestMs` (emitted by the module's interceptor). */
export interface SlowRequestEvent {
  readonly type: 'slow-request';
  readonly at: number;
  readonly route: string;
  readonly requestId: string;
  readonly durationMs: number;
}

/** Work given up because its caller went away (or aborted its signal): the statement was stopped. Not an error. */
export interface RequestCancelledEvent {
  readonly type: 'request-cancelled';
  readonly at: number;
  readonly database: string;
  readonly operation: string | undefined;
  readonly requestId: string | undefined;
  readonly route?: string;
}

/** One run of the scheduled health check, for one database. */
export interface HealthCheckedEvent {
  readonly type: 'health-checked';
  readonly at: number;
  readonly database: string;
  readonly up: boolean;
  readonly durationMs: number;
}

/**
 * The writer behind a database's endpoint changed (a failover): its stale connections were evicted and a write
 * succeeded on a new one. Servers are named as they name themselves (host:port); null when one could not say.
 */
export interface WriterChangedEvent {
  readonly type: 'writer-changed';
  readonly at: number;
  readonly database: string;
  readonly previous: string | null;
  readonly current: string | null;
  /** Connections destroyed because they led to the old writer, by the time a write succeeded. */
  readonly evicted: number;
  /** From the first read-only answer (or lost session) to the first write that succeeded. */
  readonly writesFailedMs: number;
}

/** An alert was raised (before its channels deliver it). */
export interface AlertRaisedEvent {
  readonly type: 'alert-raised';
  readonly at: number;
  readonly rule: AlertRule;
  readonly database: string;
}

export type ResilienceEvent =
  | AttemptFailedEvent
  | RecoveredEvent
  | CommitSettledEvent
  | DeadlockClusterEvent
  | BreakerStateEvent
  | BreakerRejectedEvent
  | DegradationEvent
  | QueryEvent
  | SlowQueryEvent
  | SlowRequestEvent
  | RequestCancelledEvent
  | HealthCheckedEvent
  | WriterChangedEvent
  | AlertRaisedEvent;

/** One kind of event, by its `type`: `ResilienceEventOf<'attempt-failed'>`. */
export type ResilienceEventOf<T extends ResilienceEvent['type']> = Extract<ResilienceEvent, { type: T }>;
