/**
 * The coded facts of an error, read defensively from whatever was thrown: a mysql2 error, a TypeORM
 * QueryFailedError (whose `driverError` holds the driver's), an error wrapped in `cause`, a Node socket error,
 * a string. Reading never throws: getters may throw, proxies may lie, objects may be cyclic.
 */
export interface ErrorFacts {
  /** Server errno (1213...), or the numeric `code` mysql2 gives idle-connection errors. Never a Node errno (< 0). */
  errno?: number;
  /** Symbolic code: ER_LOCK_DEADLOCK, ECONNREFUSED, PROTOCOL_CONNECTION_LOST... */
  code?: string;
  /** Five-character SQLSTATE, when the server sent one. */
  sqlState?: string;
  /** The error's message, unredacted and bounded in length. */
  message: string;
  /** mysql2 marks errors that killed the connection as fatal. */
  fatal?: boolean;
}

/** Messages are cut to this length before anything else looks at them: a megabyte message costs nothing. */
export const MAX_MESSAGE_LENGTH = 2000;
const MAX_DEPTH = 6;
const NESTED_KEYS = ['driverError', 'cause', 'originalError', 'error'] as const;

export function readErrorFacts(value: unknown): ErrorFacts {
  if (value === null || value === undefined) return { message: '' };
  if (typeof value !== 'object' && typeof value !== 'function') return { message: bounded(safeString(value)) };

  const seen: object[] = [];
  let layer: unknown = value;
  let message: string | undefined;
  for (let depth = 0; depth < MAX_DEPTH && isObject(layer) && !seen.includes(layer); depth++) {
    seen.push(layer);
    const read = readLayer(layer);
    if (read === undefined) break; // a getter or proxy trap threw: stop digging
    if (message === undefined && read.message) message = read.message;
    const facts = codedFacts(read, read.message ?? message);
    if (facts) return facts;
    layer = nextLayer(layer);
  }
  return { message: bounded(message ?? '') };
}

interface RawLayer {
  errno: unknown;
  code: unknown;
  sqlState: unknown;
  fatal: unknown;
  /** Set on PostgreSQL's errors (node-postgres, and TypeORM's copy of them): their `code` is the SQLSTATE. */
  severity: unknown;
  message: string | undefined;
}

/** A SQLSTATE: five characters, digits and capitals, with a digit in it or of class XX (so never EPIPE). */
const SQLSTATE = /^(?=[0-9A-Z]{5}$)(?:.*[0-9]|XX)/;

/** Reads the fields of one layer with plain property loads (fast) inside one guard (safe). */
function readLayer(layer: object): RawLayer | undefined {
  try {
    const record = layer as Record<string, unknown>;
    const sqlMessage = record.sqlMessage;
    const message = typeof sqlMessage === 'string' ? sqlMessage : record.message;
    return {
      errno: record.errno,
      code: record.code,
      sqlState: record.sqlState,
      fatal: record.fatal,
      severity: record.severity,
      message: typeof message === 'string' ? message : undefined,
    };
  } catch {
    return undefined;
  }
}

/** The layer's coded facts, or undefined when it carries neither errno nor code. Built as one literal: object
 *  spread costs a microsecond here, more than the rest of classify(). */
function codedFacts(layer: RawLayer, message: string | undefined): ErrorFacts | undefined {
  const { errno: rawErrno, code: rawCode } = layer;
  let errno = typeof rawErrno === 'number' && rawErrno > 0 && Number.isInteger(rawErrno) ? rawErrno : undefined;
  let code: string | undefined;
  // node-postgres puts the SQLSTATE in `code` (`'40P01'`, `'23505'`), beside a `severity`; no errno, no name.
  if (typeof layer.severity === 'string' && typeof rawCode === 'string' && SQLSTATE.test(rawCode)) {
    return { sqlState: rawCode, fatal: layer.severity === 'FATAL' || undefined, message: bounded(message ?? '') };
  }
  if (typeof rawCode === 'string' && rawCode.length > 0 && rawCode.length < 64) {
    if (isDigits(rawCode)) errno ??= Number(rawCode);
    else code = rawCode;
  } else if (typeof rawCode === 'number' && rawCode > 0 && Number.isInteger(rawCode)) {
    errno ??= rawCode; // mysql2: an ERR packet on an idle connection carries the errno as `code`
  }
  const { sqlState: rawSqlState, fatal } = layer;
  const sqlState = typeof rawSqlState === 'string' && SQLSTATE.test(rawSqlState) ? rawSqlState : undefined;
  // A SQLSTATE alone (a driver that gives no errno, a wrapper that kept only it) still says what happened.
  if (errno === undefined && code === undefined && sqlState === undefined) return undefined;
  return {
    errno,
    code,
    sqlState,
    fatal: typeof fatal === 'boolean' ? fatal : undefined,
    message: bounded(message ?? ''),
  };
}

function nextLayer(layer: object): unknown {
  try {
    const record = layer as Record<string, unknown>;
    for (const key of NESTED_KEYS) {
      const nested = record[key];
      if (isObject(nested)) return nested;
    }
    const errors = record.errors; // AggregateError, e.g. a dual-stack connect that failed twice
    if (Array.isArray(errors) && errors.length > 0) return errors[0];
  } catch {
    // a throwing getter ends the chain
  }
  return undefined;
}

function isDigits(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function isObject(value: unknown): value is object {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '';
  }
}

function bounded(message: string): string {
  return message.length > MAX_MESSAGE_LENGTH ? message.slice(0, MAX_MESSAGE_LENGTH) : message;
}
