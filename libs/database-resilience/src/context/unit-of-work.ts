import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from 'typeorm';
import { requestContext } from './request-context';

/** What is known about the unit of work the current code runs in. */
export interface UnitOfWork {
  readonly database: string;
  readonly operation: string | undefined;
  /** The HTTP request (or job) this work serves, for the error history. */
  readonly requestId?: string;
  /** Set inside `ResilienceService.transaction()`: nested transactions join it. */
  readonly manager?: EntityManager;
  /** Reads only: an open primary breaker does not stop it (replicas may serve it). */
  readonly readOnly?: boolean;
  /** The caller's deadline: `at` (ms since epoch) after which statements must not run, `ms` as given. */
  readonly deadline?: { readonly at: number; readonly ms: number };
  /** The caller's signal: once aborted, the unit's statement is stopped and no other is sent. */
  readonly signal?: AbortSignal;
}

/**
 * The unit of work in progress, carried across awaits. Only the outermost unit retries: a retrying method or
 * transaction called inside one runs once, and its failure makes the outer unit re-run, so attempts never
 * multiply.
 */
export const unitOfWork = new AsyncLocalStorage<UnitOfWork>();

let lastUnitId = 0;

/** A new id for a unit of work (or for a failure recorded outside one). */
export function nextUnitId(): number {
  return ++lastUnitId;
}

/** The unit the module's own work runs in: a unit of work, so that the guard leaves its failures unrecorded. */
const HOUSEKEEPING: UnitOfWork = Object.freeze({ database: '', operation: 'housekeeping' });

/** Whether `unit` is the module's own work (housekeeping()). */
export function isHousekeeping(unit: UnitOfWork | undefined): boolean {
  return unit === HOUSEKEEPING;
}

/**
 * Runs the module's own work (KILL, settling a commit, probes) apart from the caller's unit of work and request:
 * no deadline of the caller's, no retry, nothing recorded as the caller's error.
 */
export function housekeeping<T>(work: () => Promise<T>): Promise<T> {
  return unitOfWork.run(HOUSEKEEPING, () => requestContext.exit(work));
}
