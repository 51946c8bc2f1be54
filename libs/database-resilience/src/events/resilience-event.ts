import type { ClassifiedError } from '../classification/classified-error';

/** A failed attempt of a guarded unit of work, classified once. */
export interface AttemptFailedEvent {
  readonly type: 'attempt-failed';
  readonly at: number;
  /** The same for every attempt of one call of a unit of work. */
  readonly unitId: number;
  readonly database: string;
  readonly operation: string | undefined;
  readonly requestId: string | undefined;
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

/** A circuit breaker changed state (emitted by the breakers). */
export interface BreakerStateEvent {
  readonly type: 'breaker-state';
  readonly at: number;
  readonly database: string;
  readonly state: 'closed' | 'open' | 'half-open';
}

/** Graceful degradation turned on or off (emitted by the degradation service). */
export interface DegradationEvent {
  readonly type: 'degradation';
  readonly at: number;
  readonly database: string;
  readonly degraded: boolean;
  readonly reason: string;
}

export type ResilienceEvent =
  | AttemptFailedEvent
  | RecoveredEvent
  | CommitSettledEvent
  | DeadlockClusterEvent
  | BreakerStateEvent
  | DegradationEvent;
