import type { AlertCallback } from '../events/alert';
import type { AdminAuthorize } from './admin-authorize';
import type { ClassificationRule } from '../classification/classification-rule';
import type { ErrorCategory } from '../classification/error-category.enum';
import type { Severity } from '../classification/severity.enum';
import type { SharedStateStore } from '../shared-state/shared-state-store';

/** The settings of the shared store (`sharedState.store`). */
export type SharedStoreOptions =
  | { type: 'memory' }
  | { type: 'redis'; url: string; keyPrefix?: string; timeoutMs?: number; secret?: string; previousSecret?: string };

/** How retry delays are spread (see docs/CONFIGURATION.md). */
export type JitterKind = 'full' | 'equal' | 'decorrelated' | 'none';

/**
 * Options of `DatabaseResilienceModule.forRoot()`. Every field is optional; the defaults are in
 * docs/CONFIGURATION.md and in `options.schema.ts`. They are validated at start-up.
 */
export interface DatabaseResilienceOptions {
  /** TypeORM DataSource names the module guards. Default `['default']`. */
  databases?: string[];
  classifier?: {
    /** Your own classifications, consulted before the catalogue. */
    rules?: ClassificationRule[];
  };
  retry?: {
    /** Attempts in all, the first included. Default 3. */
    maxAttempts?: number;
    /** Delay before the first retry, before jitter. Default 50 ms. */
    baseDelayMs?: number;
    /** Upper bound of one delay. Default 2000 ms. */
    maxDelayMs?: number;
    /** Default `full`. */
    jitter?: JitterKind;
    /** Total time one unit of work may spend in attempts and delays. Default 10 000 ms. */
    budgetMs?: number;
    /** Categories to retry. Default: whatever the classifier says is safe to retry. */
    retryOn?: `${ErrorCategory}`[];
  };
  pool?: {
    /** Longest wait for a pool connection (mysql2 has no bound); then a `PoolAcquireTimeoutError`. Default 10 000 ms. */
    acquireTimeoutMs?: number;
    /** A connection idle longer than this is pinged before use, and replaced if dead. `null`: never. Default 5 000 ms. */
    validateAfterIdleMs?: number | null;
    /** Longest wait for that ping. Default 2 000 ms. */
    validationTimeoutMs?: number;
  };
  failover?: {
    /** With TypeORM replication: a failing replica is left out this long, then tried (and put back) again. Default 5 000 ms. */
    replicaRetryMs?: number;
    /**
     * With TypeORM replication: reads go only to replicas whose measured lag is at most this (MySQL/MariaDB measure
     * whole seconds); one behind, or not replicating, is left out until it catches up. Default null: lag not checked.
     */
    maxLagMs?: number | null;
    /** How often each replica's lag is measured while `maxLagMs` is set. Default 1 000 ms. */
    lagCheckIntervalMs?: number;
    /**
     * A request that wrote reads from the primary this long after its write (it reads its own writes, whatever a
     * replica's lag). 0: off. Default 5 000 ms.
     */
    readYourWritesMs?: number;
  };
  idempotency?: {
    /** Table of the markers that settle an ambiguous commit. Created on first use. Default `resilience_idempotency_keys`. */
    table?: string;
    /** Longest time to settle an ambiguous commit (kill the old session, wait it out, look the marker up). Default 10 000 ms. */
    settleTimeoutMs?: number;
  };
  sharedState?: {
    /**
     * Where what instances share lives: breaker states, degradation resets, revoked admin sessions, alert claims
     * and (with Redis) the fleet view. Default `{ type: 'memory' }` (not shared).
     * `{ type: 'redis', url, keyPrefix?: 'db-resilience', timeoutMs?: 250 }` shares it through Redis.
     * `secret` (32+ characters): keys and messages are signed, unsigned or badly signed ones ignored;
     * `previousSecret` is still accepted while a new secret rolls out (docs/OPERATIONS.md, trust model).
     * Or a store of your own, as @nestjs/throttler takes a storage: a subclass of `SharedStateStore` (the fleet
     * view then stays each instance's own).
     */
    store?: SharedStoreOptions | SharedStateStore;
  };
  circuitBreaker?: {
    /** Consecutive server-side failures that open a breaker. Default 5. */
    failureThreshold?: number;
    /** The longest an open breaker waits before it admits a probe (see `firstProbeAfterMs`). Default 60 000 ms. */
    recoveryTimeoutMs?: number;
    /**
     * The first probe after the breaker opens comes this soon, and each failed probe doubles the wait, up to
     * `recoveryTimeoutMs`. Behind HAProxy (or another endpoint that moves traffic by its own checks), set it to about
     * the check's time to take a server out, so that the breaker does not hold the app off once traffic has moved.
     * Default 1 000 ms; `null`: every probe after `recoveryTimeoutMs`.
     */
    firstProbeAfterMs?: number | null;
    /** Probes admitted while half-open. Default 1. */
    halfOpenMaxProbes?: number;
    /** Probe successes that close a half-open breaker. Default 1. */
    successThreshold?: number;
    /** Or open at this share of failed calls within `windowMs`... Default 0.5. */
    failureRateThreshold?: number;
    /** ...once the window holds this many calls. Default 10. */
    minimumCalls?: number;
    /** Default 10 000 ms. */
    windowMs?: number;
    /**
     * Who finds out that the server is back: `request` (default) lets user calls through as probes once the
     * recovery timeout has passed; `background` runs a `SELECT 1` of its own, so no user call is sacrificed.
     */
    probe?: 'request' | 'background';
    /** @deprecated Moved to `sharedState.store`; still read, with a start-up warning. */
    store?: SharedStoreOptions;
  };
  queries?: {
    /** A statement that takes this long or longer is recorded as slow, with its fingerprint. Default 1000 ms. */
    slowQueryMs?: number;
    /**
     * A data statement (SELECT, INSERT, UPDATE, DELETE, REPLACE, WITH) without a deadline of its own (`deadlineMs`,
     * or the request's with `requestContext`) is stopped after this long, on the server and at the client: a hung
     * server cannot hold callers for ever. DDL is never limited. `null`: no limit. Default 30 000 ms.
     */
    timeoutMs?: number | null;
    /** How many slow queries the log keeps (newest). Default 200. */
    slowQueryLogSize?: number;
  };
  http?: {
    /** A request that takes this long or longer is logged and counted as slow. Default 3000 ms. */
    slowRequestMs?: number;
    /**
     * With `requestContext: true`: statements of an HTTP request that have no deadline of their own
     * (`deadlineMs`) must finish within this time from the request's start. `null`: none. Default 30 000 ms.
     */
    requestDeadlineMs?: number | null;
    /** `Retry-After` of a 503 when nothing better is known (an open breaker says its own). Default 5 s. */
    retryAfterSeconds?: number;
    /** Header that carries the request id in and out (a safe incoming value is kept). Default `x-request-id`. */
    requestIdHeader?: string;
  };
  healthCheck?: {
    /** Runs `SELECT 1` on each database on a schedule. Default true. */
    enabled?: boolean;
    /** Time between runs. Default 10 000 ms. */
    intervalMs?: number;
    /** A database that does not answer within this is reported down. Below intervalMs. Default 2 000 ms. */
    timeoutMs?: number;
  };
  /** The admin dashboard and REST API (at the `adminPath` switch, default `/database-errors`). */
  admin?: {
    /**
     * A secret of at least 16 characters: API calls send it as `Authorization: Bearer …`, the dashboard's login
     * form takes it once and sets a signed session cookie. Without a token or `authorize`, every admin route
     * answers 401.
     */
    token?: string;
    /** Your own check (e.g. staff only, from your session): true lets the request in. */
    authorize?: AdminAuthorize;
    /** How long a dashboard login lasts. Default 8 h. */
    sessionTtlMs?: number;
    /** How often the dashboard refreshes. Default 5 000 ms. */
    refreshIntervalMs?: number;
    /**
     * Failed admin authentications a client address may make within `authFailureWindowMs` before it gets 429
     * for a window, right token or not. Default 10.
     */
    authFailureLimit?: number;
    /** The window of `authFailureLimit`, and how long a client is blocked. Default 60 000 ms. */
    authFailureWindowMs?: number;
  };
  history?: {
    /** Errors kept for the recent-errors view. Default 1000. */
    maxEntries?: number;
  };
  deadlocks?: {
    /** More deadlocks than this on one database within `clusterWindowMs` is a cluster (an alert). Default 5. */
    clusterThreshold?: number;
    /** Default 300 000 ms (5 minutes). */
    clusterWindowMs?: number;
    /**
     * Read the server's own account of a deadlock after one: MySQL/MariaDB's `SHOW ENGINE INNODB STATUS` (needs
     * the PROCESS privilege), PostgreSQL's other sessions while they are open. Default true.
     */
    serverReport?: boolean;
    /** At most one read per database in this time. Default 10 000 ms. */
    serverReportMinIntervalMs?: number;
    /** @deprecated Moved to `serverReport`; still read, with a start-up warning. */
    innodbStatus?: boolean;
    /** @deprecated Moved to `serverReportMinIntervalMs`; still read, with a start-up warning. */
    innodbStatusMinIntervalMs?: number;
    /** Distinct statement fingerprints and table pairs kept per database. Default 500. */
    maxFingerprints?: number;
  };
  alerts?: {
    /** Lowest severity of an error that raises an alert at once. Default `critical`. */
    minSeverity?: `${Severity}`;
    /** More errors than this in one minute raise an alert. Default 10. */
    errorsPerMinute?: number;
    /**
     * One alert per rule (and database) in this time; the next says how many were suppressed. With a shared store
     * (Redis) once for all the instances sharing it. Default 300 000 ms.
     */
    cooldownMs?: number;
    /** With a shared store: how long the instance that claimed an alert waits for the others' occurrences to count them. Default 1 000 ms. */
    fleetGatherMs?: number;
    /** Longest time a channel may take; then it is abandoned and logged. Default 5 000 ms. */
    channelTimeoutMs?: number;
    /** Alerts go to the Nest logger. Default true. */
    log?: boolean;
    /** Your functions, called with each alert (after the request that caused it, never in its way). */
    callbacks?: AlertCallback[];
    email?: {
      /** `smtp://` or `smtps://` URL of the mail server. */
      smtpUrl: string;
      from: string;
      to: string[];
      /** Default `[db-resilience]`. */
      subjectPrefix?: string;
    };
  };
  degradation?: {
    /** Degrade while any breaker is open. Default true. */
    onBreakerOpen?: boolean;
    /** Also degrade past this many errors a minute on a database. Default `null`: off. */
    errorsPerMinute?: number | null;
    /** Back to normal after this long without trouble (no breaker open, error rate below the threshold). Default 30 000 ms. */
    healthyPeriodMs?: number;
  };
  reports?: {
    /** A summary per database every so often, to the log (and by e-mail with `email: true`). Default `null`: off. */
    intervalMs?: number | null;
    email?: boolean;
  };
  /** This instance's name in alerts and the fleet view. Default `<hostname>:<pid>`. */
  instanceId?: string;
  /**
   * Units of an operation (`@Retryable`'s method, `transaction()`'s `operation`) that deadlock go in through an
   * adaptive limit per operation: halved on a deadlock (once a window), grown by 1/limit per success, lifted after `quietMs`
   * without one. Without a deadlock nothing waits and nothing is kept but a counter. On by default.
   */
  deadlockAdmission?: {
    /** Default true. */
    enabled?: boolean;
    /** The limit never goes below this many units in flight. Default 2. */
    minLimit?: number;
    /** Default 10 000 ms. */
    quietMs?: number;
  };
  /**
   * An adaptive limit in front of each database's primary pool: the borrows in flight follow the time connections
   * are held (Gradient2); a borrow past the limit waits briefly, or is shed at once with
   * `ConcurrencyLimitExceededError` (503 with Retry-After) instead of queueing until `pool.acquireTimeoutMs`.
   * Off by default.
   */
  concurrencyLimit?: {
    /** Default false. */
    enabled?: boolean;
    /** Default 1. */
    minLimit?: number;
    /** Default `null`: the pool's size. */
    maxLimit?: number | null;
    /** The longest a borrow waits for the limit. Default `null`: half the average time a connection is held, at least 10 ms. */
    maxWaitMs?: number | null;
  };
  /**
   * Bounds the retries of each database on this instance, as Finagle's RetryBudget: over `windowMs`, retries stay
   * below `ratio` × first attempts + `minRetriesPerSecond`; past that a unit that would be retried fails with
   * `RetryBudgetExhaustedError`. A first attempt is never refused; retries after a deadlock are not drawn from it.
   */
  retryBudget?: {
    /** Default true. */
    enabled?: boolean;
    /** Retries per first attempt. Default 0.2. */
    ratio?: number;
    /** Retries allowed per second whatever the traffic. Default 10. */
    minRetriesPerSecond?: number;
    /** Default 10 000 ms. */
    windowMs?: number;
  };
  /**
   * Retries, deadlocks, breaker rejections and commits of unknown outcome as events of the active OpenTelemetry
   * span, when `@opentelemetry/api` is installed. Default true (nothing happens without the package).
   */
  tracing?: boolean;
  logs?: {
    /**
     * The module's log lines as objects with stable fields (`event`, `database`, `category`, `code`, `message`)
     * for a JSON logger (Nest's `ConsoleLogger({ json: true })`, or the app's own). Default false: one line of text.
     */
    json?: boolean;
  };
}
