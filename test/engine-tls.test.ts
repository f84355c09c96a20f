// mTLS between workers / CLI and a remote Temporal frontend. The Temporal CLI's `server start-dev`
// (v1.5.1) cannot serve TLS: it has no --tls-* flag and builds its server config in code with no TLS
// section (temporalcli/devserver/server.go), and TLS is static config, out of reach of
// --dynamic-config-value. So a real dev server runs behind a real TLS terminator that requires a
// client certificate of the test CA, as a production frontend (or its ingress) would.
import test from 'ava';
import proto from '@temporalio/proto';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startTestTemporal, type TestTemporal } from './helpers/temporal.js';
import { makeCertificates, startTlsProxy, type Certificates, type TlsProxy } from './helpers/tls.js';
import { evoquant, startCliWorker, stateDirEnv } from './helpers/user-stack.js';
import { waitFor } from './helpers/wait.js';

let server: TestTemporal | undefined;
let certs: Certificates | undefined;
let proxy: TlsProxy | undefined;

// One hook: ava runs before hooks concurrently, and the proxy needs the server's port.
test.before(async () => {
  server = await startTestTemporal();
  certs = makeCertificates(makeTempDir('tls'));
  proxy = await startTlsProxy(certs, server.server.state.port);
});

test.after.always(async () => {
  await proxy?.close();
  await server?.stop();
  if (certs !== undefined) removeTempDir(certs.dir);
});

function temporal(): TestTemporal {
  if (server === undefined) throw new Error('Temporal is not started (did test.before fail?)');
  return server;
}

function fixtures(): { certs: Certificates; proxy: TlsProxy } {
  if (certs === undefined || proxy === undefined) throw new Error('TLS fixtures missing (did test.before fail?)');
  return { certs, proxy };
}

/** A user pointing at the TLS frontend, with these EVOQUANT_TEMPORAL_TLS_* (and nothing from a state dir). */
function tlsEnv(tls: { ca?: string; cert?: string; key?: string; serverName?: string }): NodeJS.ProcessEnv {
  const { certs: c, proxy: p } = fixtures();
  return stateDirEnv(c.dir, {
    TEMPORAL_ADDRESS: p.address,
    EVOQUANT_TEMPORAL_TLS_CA: tls.ca ?? '',
    EVOQUANT_TEMPORAL_TLS_CERT: tls.cert ?? '',
    EVOQUANT_TEMPORAL_TLS_KEY: tls.key ?? '',
    EVOQUANT_TEMPORAL_TLS_SERVER_NAME: tls.serverName ?? '',
  });
}

test.serial('a GPU worker given --tls-* flags polls through mTLS', async (t) => {
  const { certs: c, proxy: p } = fixtures();
  const before = p.accepted.length;
  const identity = `tls-gpu-${process.pid}`;
  const worker = await startCliWorker(
    ['gpu', '--device-class', 'cpu', '--identity', identity, '--tls-ca', c.ca, '--tls-cert', c.clientCert, '--tls-key', c.clientKey, '--tls-server-name', c.serverName],
    tlsEnv({}),
  );
  t.teardown(() => worker.stop(5_000));
  t.regex(worker.output, new RegExp(`worker ready: gpu-cpu .* on ${p.address.replace(/\./g, '\\.')}`));
  // The server itself (asked directly, not through the proxy) sees the worker polling.
  const client = await temporal().client();
  const pollers = await waitFor('the TLS worker to poll gpu-cpu', async () => {
    const { pollers: found } = await client.workflowService.describeTaskQueue({
      namespace: temporal().namespace,
      taskQueue: { name: 'gpu-cpu' },
      taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    return found?.some((poller) => poller.identity === identity) ? found : undefined;
  });
  t.true(pollers.length >= 1);
  t.true(p.accepted.length > before, 'handshakes completed with a client certificate');
  t.true(p.accepted.slice(before).every((cn) => cn === 'evoquant-client'));
});

test.serial('the CLI talks to Temporal through mTLS from EVOQUANT_TEMPORAL_TLS_*', async (t) => {
  const { certs: c, proxy: p } = fixtures();
  const before = p.accepted.length;
  // The answer comes from the server: the request went through.
  const r = await evoquant(['status', 'no-such-evolution'], tlsEnv({ ca: c.ca, cert: c.clientCert, key: c.clientKey, serverName: c.serverName }), 60_000);
  t.is(r.code, 2);
  t.is(r.stderr, 'evoquant: evolution no-such-evolution not found\n');
  t.true(p.accepted.length > before);
});

test.serial('a client without a certificate, or with one of another CA, is refused; so is plain gRPC', async (t) => {
  const { certs: c, proxy: p } = fixtures();
  const cases: Array<[string, NodeJS.ProcessEnv]> = [
    ['no client certificate', tlsEnv({ ca: c.ca, serverName: c.serverName })],
    ['a certificate of another CA', tlsEnv({ ca: c.ca, cert: c.rogueCert, key: c.rogueKey, serverName: c.serverName })],
    ['no TLS at all', tlsEnv({})],
  ];
  for (const [label, env] of cases) {
    const accepted = p.accepted.length;
    const refused = p.refused.length;
    const r = await evoquant(['status', 'no-such-evolution'], env, 60_000);
    t.is(r.code, 2, label);
    t.regex(r.stderr, new RegExp(`^evoquant: cannot reach Temporal at ${p.address.replace(/\./g, '\\.')}: .*\\n$`), label);
    t.is(p.accepted.length, accepted, `${label}: no handshake completed`);
    if (label !== 'no TLS at all') t.true(p.refused.length > refused, `${label}: the server refused the handshake`);
  }
});

test.serial('unreadable or malformed TLS settings: exit 2, one line naming the flag or variable, before any connection', async (t) => {
  const { certs: c, proxy: p } = fixtures();
  const accepted = p.accepted.length;
  const refused = p.refused.length;
  const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
    [['--tls-ca', '/nonexistent/ca.pem', 'status', 'x'], tlsEnv({}), 'evoquant: --tls-ca: cannot read /nonexistent/ca.pem: ENOENT\n'],
    [['status', 'x'], tlsEnv({ ca: c.dir }), `evoquant: EVOQUANT_TEMPORAL_TLS_CA: ${c.dir} is not a regular file\n`],
    [['status', 'x', '--tls-cert', c.clientKey, '--tls-key', c.clientKey], tlsEnv({}), `evoquant: --tls-cert: ${c.clientKey} is not a PEM certificate\n`],
    [['worker', 'gpu', '--device-class', 'cpu', '--tls-cert', c.clientCert], tlsEnv({}), 'evoquant: --tls-key: required with --tls-cert (a client certificate needs its key)\n'],
    [['status', 'x'], tlsEnv({ cert: c.clientCert, key: c.ca }), `evoquant: EVOQUANT_TEMPORAL_TLS_KEY: ${c.ca} is not a PEM private key (or it is encrypted)\n`],
    [['status', 'x', '--tls-server-name', 'not a host'], tlsEnv({}), 'evoquant: --tls-server-name: not a DNS host name\n'],
  ];
  for (const [args, env, line] of cases) {
    const r = await evoquant(args, env, 60_000);
    t.is(r.code, 2, args.join(' '));
    t.is(r.stderr, line);
    t.is(r.stdout, '');
  }
  t.is(p.accepted.length, accepted, 'nothing connected');
  t.is(p.refused.length, refused);
});

test.serial('TLS settings for the embedded stack are refused: its dev server has no TLS', async (t) => {
  const { certs: c } = fixtures();
  // The state dir of a running dev server, as `evoquant up` leaves it.
  const env = { ...tlsEnv({ ca: c.ca }), TEMPORAL_ADDRESS: '', EVOQUANT_HOME: temporal().stateDir };
  const r = await evoquant(['status', 'x'], env, 60_000);
  t.is(r.code, 2);
  t.is(r.stderr, 'evoquant: EVOQUANT_TEMPORAL_TLS_*: set, but TEMPORAL_ADDRESS is not: the embedded dev server has no TLS; point TEMPORAL_ADDRESS at the TLS frontend\n');
});
