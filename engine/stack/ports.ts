// Port picking for locally started services. The OS picks for us where it can (port 0);
// Temporal needs a pair (frontend p, UI p+1000), so we probe that pair explicitly.
import net from 'node:net';

const HOST = '127.0.0.1';

/** True when nothing listens on `port` at 127.0.0.1 (we could bind it right now). */
export function isPortFree(port: number, host: string = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** An ephemeral port the OS considers free. Another process may still take it before we do. */
export function freePort(host: string = HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read the bound port'))));
    });
  });
}

/**
 * A port `p` such that every `p + offset` is free too. Searched in [min, max) from a random start,
 * below the Linux ephemeral range (32768+): a service restarted on the same port must not find it
 * taken by some outgoing connection in the meantime.
 */
export async function freePortWithOffsets(
  offsets: readonly number[],
  { min = 20_000, max = 30_000, tries = 200 }: { min?: number; max?: number; tries?: number } = {},
): Promise<number> {
  const span = max - min;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < tries; i++) {
    const port = min + ((start + i * 7) % span);
    const all = [port, ...offsets.map((o) => port + o)];
    let ok = true;
    for (const p of all) {
      if (p > 65_535 || !(await isPortFree(p))) {
        ok = false;
        break;
      }
    }
    if (ok) return port;
  }
  throw new Error(`no free port with offsets [${offsets.join(', ')}] in ${min}..${max}`);
}

/** True when a TCP connection to host:port succeeds. */
export function isPortOpen(port: number, host: string = HOST, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
