/**
 * A TCP proxy of a test's own between the code under test and a shared service, so the test can
 * take the service away (cut) and give it back (restore) without touching the service itself.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  /** Connections accepted while cut (and closed at once): each is a call that reached the proxy. */
  refused = 0;
  private up = true;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => {
      const self = proxy as TcpProxy;
      if (!self.up) {
        self.refused += 1;
        client.destroy();
        return;
      }
      const upstream = createConnection({ host: targetHost, port: targetPort });
      for (const socket of [client, upstream]) {
        self.sockets.add(socket);
        socket.on('close', () => self.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    proxy = new TcpProxy(server, typeof address === 'object' && address ? address.port : 0);
    return proxy;
  }

  /** Drops every open connection; new ones are accepted and closed at once (a reset). */
  cut(): void {
    this.up = false;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
