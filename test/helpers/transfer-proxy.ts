// A small real TCP proxy for transfer tests: forwards client ↔ target and, on the FIRST
// connection only, can flip one byte of the target→client stream or cut the connection.
import net from 'node:net';
import { once } from 'node:events';

/** What the proxy does to its first connection. */
export interface ProxyOptions {
  /** Flip (xor 0xff) the byte at this offset of the target→client stream. */
  corruptAt?: number;
  /** Destroy both sides once this many target→client bytes were forwarded. */
  cutAfter?: number;
}

/** A running proxy. */
export interface Proxy {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Resolves when the first connection was cut. */
  readonly cut: Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 forwarding to 127.0.0.1:targetPort. */
export async function startProxy(targetPort: number, opts: ProxyOptions = {}): Promise<Proxy> {
  let connections = 0;
  let onCut!: () => void;
  const cut = new Promise<void>((resolve) => (onCut = resolve));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const first = connections++ === 0;
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    let forwarded = 0;
    upstream.on('data', (chunk: Buffer) => {
      const start = forwarded;
      forwarded += chunk.length;
      if (first && opts.corruptAt !== undefined && opts.corruptAt >= start && opts.corruptAt < forwarded) {
        chunk = Buffer.from(chunk);
        const at = opts.corruptAt - start;
        chunk[at] = chunk[at]! ^ 0xff;
      }
      if (first && opts.cutAfter !== undefined && forwarded >= opts.cutAfter) {
        client.destroy();
        upstream.destroy();
        onCut();
        return;
      }
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    cut,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
