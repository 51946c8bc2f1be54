import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

type CommitFault = 'cut-after' | 'drop';

/**
 * A TCP proxy between the client and a MySQL/MariaDB server that can fail on demand: cut the connection right
 * after a COMMIT was forwarded (the server commits, the client never hears), drop a COMMIT (nothing commits),
 * blackhole every open connection (a silent network drop), or refuse new connections.
 * It reads the client's stream as MySQL packets (3-byte length, sequence, payload) to find COM_QUERY COMMIT.
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
    private readonly targetPort: number,
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

  /** Closes every open connection (both sides), as a server that went away would. */
  closeOpenConnections(): void {
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
    client.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const length = pending[0] | (pending[1] << 8) | (pending[2] << 16);
        if (pending.length < 4 + length) break;
        const packet = pending.subarray(0, 4 + length);
        pending = pending.subarray(4 + length);
        const isCommit = packet[4] === 0x03 && /^\s*COMMIT\b/i.test(packet.subarray(5).toString('utf8'));
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
