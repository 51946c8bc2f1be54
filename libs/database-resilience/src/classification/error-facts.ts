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

  const seen = new Set<object>();
  let layer: unknown = value;
  let message: string | undefined;
  for (let depth = 0; depth < MAX_DEPTH && isObject(layer) && !seen.has(layer); depth++) {
    seen.add(layer);
    const facts = codedFacts(layer);
    const layerMessage = readString(layer, 'sqlMessage') ?? readString(layer, 'message');
    if (message === undefined && layerMessage) message = layerMessage;
    if (facts) return { ...facts, message: bounded(layerMessage ?? message ?? '') };
    layer = nextLayer(layer);
  }
  return { message: bounded(message ?? '') };
}

function codedFacts(layer: object): Omit<ErrorFacts, 'message'> | undefined {
  const rawErrno = read(layer, 'errno');
  const rawCode = read(layer, 'code');
  let errno = typeof rawErrno === 'number' && rawErrno > 0 && Number.isInteger(rawErrno) ? rawErrno : undefined;
  let code: string | undefined;
  if (typeof rawCode === 'string' && rawCode.length > 0 && rawCode.length < 64) {
    if (/^\d+$/.test(rawCode)) errno ??= Number(rawCode);
    else code = rawCode;
  } else if (typeof rawCode === 'number' && rawCode > 0 && Number.isInteger(rawCode)) {
    errno ??= rawCode; // mysql2: an ERR packet on an idle connection carries the errno as `code`
  }
  if (errno === undefined && code === undefined) return undefined;
  const sqlState = readString(layer, 'sqlState');
  const fatal = read(layer, 'fatal');
  return {
    errno,
    code,
    sqlState: sqlState && sqlState.length === 5 ? sqlState : undefined,
    fatal: typeof fatal === 'boolean' ? fatal : undefined,
  };
}

function nextLayer(layer: object): unknown {
  for (const key of NESTED_KEYS) {
    const nested = read(layer, key);
    if (isObject(nested)) return nested;
  }
  const errors = read(layer, 'errors'); // AggregateError, e.g. a dual-stack connect that failed twice
  if (Array.isArray(errors) && errors.length > 0) return errors[0];
  return undefined;
}

function read(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function readString(target: object, key: string): string | undefined {
  const value = read(target, key);
  return typeof value === 'string' ? value : undefined;
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
