// mTLS fixtures: a throwaway CA with a server and a client certificate (and a client certificate of
// another CA), made by openssl; and a TLS-terminating proxy in front of a plain Temporal dev server
// (which cannot speak TLS itself), recording who completed the handshake and who was refused.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

export interface Certificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Signed by a CA the server does not trust. */
  rogueCert: string;
  rogueKey: string;
  /** The DNS name in the server certificate. */
  serverName: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function selfSignedCa(dir: string, name: string): void {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function signed(dir: string, name: string, ca: string, cn: string, extensions: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** Writes the certificates into `dir` (which the caller owns and removes). */
export function makeCertificates(dir: string): Certificates {
  const serverName = 'temporal.test';
  selfSignedCa(dir, 'ca');
  selfSignedCa(dir, 'rogue-ca');
  signed(dir, 'server', 'ca', serverName, `subjectAltName=DNS:${serverName},IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  signed(dir, 'client', 'ca', 'evoquant-client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  signed(dir, 'rogue', 'rogue-ca', 'evoquant-client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  const at = (f: string): string => path.join(dir, f);
  return {
    dir,
    ca: at('ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    rogueCert: at('rogue.crt'),
    rogueKey: at('rogue.key'),
    serverName,
  };
}

export interface TlsProxy {
  address: string;
  /** Subject CN of every client certificate that completed the handshake. */
  accepted: string[];
  /** Why each refused handshake failed. */
  refused: string[];
  close(): Promise<void>;
}

/** Listens with TLS (client certificates required, signed by `certs.ca`) and forwards to `upstreamPort`. */
export async function startTlsProxy(certs: Certificates, upstreamPort: number): Promise<TlsProxy> {
  const accepted: string[] = [];
  const refused: string[] = [];
  const open = new Set<net.Socket>();
  const server = tls.createServer(
    {
      key: readFileSync(certs.serverKey),
      cert: readFileSync(certs.serverCert),
      ca: readFileSync(certs.ca),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      accepted.push(String(socket.getPeerCertificate().subject?.CN ?? ''));
      const upstream = net.connect(upstreamPort, '127.0.0.1');
      for (const s of [socket, upstream]) {
        open.add(s);
        s.once('close', () => open.delete(s));
        s.on('error', () => {
          socket.destroy();
          upstream.destroy();
        });
      }
      socket.pipe(upstream).pipe(socket);
    },
  );
  server.on('tlsClientError', (err) => refused.push(err.message));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    accepted,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
