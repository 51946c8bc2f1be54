import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

type CommitFault = 'cut-after' | 'drop';

/** The wire protocol the proxy reads, to find COMMIT in the client's stream. */
export type WireProtocol = 'mysql' | 'postgres';

/** The next whole message at the head of `pending`: its length, and whether it is a simple-query COMMIT. */
type Framing = (pending: Buffer) => { length: number; isCommit: boolean } | undefined;

const COMMIT = /^\s*COMMIT\b/i;

/** MySQL packets: 3-byte length, sequence, payload; COM_QUERY (0x03) COMMIT. */
const mysqlFraming: Framing = (pending) => {
  if (pending.length < 4) return undefined;
  const length = 4 + (pending[0] | (pending[1] << 8) | (pending[2] << 16));
  if (pending.length < length) return undefined;
  return { length, isCommit: pending[4] === 0x03 && COMMIT.test(pending.subarray(5, length).toString('utf8')) };
};

/** PostgreSQL: untyped start-up messages (Int32 length, Int32 code), then type byte + Int32 length; `Q` COMMIT. */
function postgresFraming(): Framing {
  let startedUp = false;
  return (pending) => {
    if (!startedUp) {
      if (pending.length < 8) return undefined;
      const length = pending.readInt32BE(0);
      if (pending.length < length) return undefined;
      startedUp = pending.readInt32BE(4) !== 80877103; // an SSLRequest is followed by the real start-up
      return { length, isCommit: false };
    }
    if (pending.length < 5) return undefined;
    const length = 1 + pending.readInt32BE(1);
    if (pending.length < length) return undefined;
    return { length, isCommit: pending[0] === 0x51 && COMMIT.test(pending.subarray(5, length).toString('utf8')) };
  };
}

/**
 * A TCP proxy between the client and a MySQL/MariaDB or PostgreSQL server that can fail on demand: cut the
 * connection right after a COMMIT was forwarded (the server commits, the client never hears), drop a COMMIT
 * (nothing commits), blackhole every open connection (a silent network drop), or refuse new connections.
 * It reads the client's stream as messages of the server's wire protocol to find a COMMIT.
 */
export class FaultProxy {
  private server?: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private readonly silenced: Socket[] = [];
  private commitFault?: CommitFault;
  private refusing = false;
  /** How many COMMITs the proxy cut or dropped. */
  faultsInjected = 0;
  /** Connections clients opened to the proxy, refused ones included. */
  accepted = 0;

  constructor(
    private readonly targetHost: string,
    private targetPort: number,
    private readonly protocol: WireProtocol = 'mysql',
  ) {}

  get port(): number {
    return (this.server?.address() as AddressInfo).port;
  }

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** The next COMMIT reaches the server, then both sides of that connection are cut. */
  cutAfterNextCommit(): void {
    this.commitFault = 'cut-after';
  }

  /** The next COMMIT never reaches the server; both sides of that connection are cut. */
  dropNextCommit(): void {
    this.commitFault = 'drop';
  }

  /** Every open connection goes silent: nothing forwarded, nothing closed. New connections still work. */
  blackholeOpenConnections(): void {
    for (const pair of this.pairs) {
      for (const socket of [pair.client, pair.upstream]) {
        socket.removeAllListeners('data');
        socket.removeAllListeners('close');
        socket.removeAllListeners('error');
        socket.on('error', () => undefined);
      }
      pair.upstream.destroy(); // the server side goes; the client side stays open and silent
      this.silenced.push(pair.client);
    }
    this.pairs.clear();
  }

  /** New connections go to `port` from now on; open ones stay where they are (a cluster endpoint after a failover). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  /** New connections are closed at once (a refused connection, as far as mysql2 can tell). */
  refuse(refusing: boolean): void {
    this.refusing = refusing;
  }

  async stop(): Promise<void> {
    this.silenced.forEach((socket) => socket.destroy());
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** Closes every open connection (both sides; silenced ones too), as a server that went away would. */
  closeOpenConnections(): void {
    this.silenced.splice(0).forEach((socket) => socket.destroy());
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  private accept(client: Socket): void {
    this.accepted++;
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    const pair = { client, upstream };
    this.pairs.add(pair);
    upstream.connect(this.targetPort, this.targetHost);
    let pending = Buffer.alloc(0);
    const framing = this.protocol === 'postgres' ? postgresFraming() : mysqlFraming;
    client.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (let message = framing(pending); message !== undefined; message = framing(pending)) {
        const { length, isCommit } = message;
        const packet = pending.subarray(0, length);
        pending = pending.subarray(length);
        const fault = isCommit ? this.commitFault : undefined;
        if (fault) {
          this.commitFault = undefined;
          this.faultsInjected++;
          if (fault === 'cut-after')
            upstream.end(packet); // the server reads COMMIT, then end of stream
          else upstream.destroy();
          client.destroy();
          this.pairs.delete(pair);
          return;
        }
        upstream.write(packet);
      }
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  }
}
