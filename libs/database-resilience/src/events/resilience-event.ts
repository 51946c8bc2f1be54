import type { ClassifiedError } from '../classification/classified-error';

/** A failed attempt of a guarded unit of work, classified once. */
export interface AttemptFailedEvent {
  readonly type: 'attempt-failed';
  readonly at: number;
  readonly database: string;
  readonly operation: string | undefined;
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

export type ResilienceEvent = AttemptFailedEvent | RecoveredEvent | CommitSettledEvent;
