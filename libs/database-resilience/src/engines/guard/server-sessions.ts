/** A pooled connection's session as its server tells it. */
export interface ServerSession {
  /** The session's id on its server (MySQL thread id, PostgreSQL pid); undefined where the driver's id is not it. */
  readonly id: number | undefined;
  /** The server's name for itself (host:port): where a statement that acts on the session by its id must go. */
  readonly server: string | undefined;
  /** The driver's id is not the server's (a pooler's key: PgBouncer, ProxySQL). */
  readonly pooled: boolean;
}

/** Sends one statement on the connection itself, before it is lent; calls back with its first row. */
export type SessionAsk = (sql: string, answer: (error: unknown, row?: Record<string, unknown>) => void) => void;

/**
 * Each connection's session, asked of its server once, before the connection is first lent (one round trip per new
 * connection, none per borrow). Behind a pooler the driver's session id is the pooler's key and names no session of
 * the server; behind a balancing endpoint (HAProxy round robin, a multi-primary cluster, a writer switched by
 * DNS or a proxy) the same id names another session on each server. So a session is stopped, ended or looked up
 * only by an id its server confirmed, and only on a connection to that same server.
 */
export class ServerSessions<C extends object> {
  private readonly known = new WeakMap<C, ServerSession>();

  /** `sql` answers one row: `id`, the session's id, and `server`, the server's name for itself. */
  constructor(private readonly sql: string) {}

  /**
   * Learns the connection's session unless known, then calls `then` (whatever happens: a connection whose check
   * failed is lent all the same, its next statement meets the failure, and its session stays unknown).
   */
  learn(connection: C, driverId: number | null | undefined, ask: SessionAsk, then: () => void): void {
    if (this.known.has(connection)) return then();
    try {
      ask(this.sql, (error, row) => {
        if (!error && row !== undefined) {
          const id = Number(row.id);
          const confirmed = driverId !== null && driverId !== undefined && id === driverId;
          this.known.set(connection, {
            id: confirmed ? id : undefined,
            server: row.server === null || row.server === undefined ? undefined : String(row.server),
            pooled: !confirmed,
          });
        }
        then();
      });
    } catch {
      then(); // an ended connection
    }
  }

  of(connection: C): ServerSession | undefined {
    return this.known.get(connection);
  }
}
