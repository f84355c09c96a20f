// --tls-ca / --tls-cert / --tls-key / --tls-server-name: mTLS towards a remote Temporal frontend for
// every command (workers, start, status, …). They are checked before the command runs and handed on
// as EVOQUANT_TEMPORAL_TLS_*, the variables the engine's client reads, so forked GPU workers get them too.
import path from 'node:path';
import type { Command } from 'commander';

interface TlsFlags {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
}

export function registerTlsFlags(program: Command): void {
  program
    .option('--tls-ca <file>', 'PEM root CA of the Temporal frontend (env EVOQUANT_TEMPORAL_TLS_CA)')
    .option('--tls-cert <file>', 'PEM client certificate for mTLS (env EVOQUANT_TEMPORAL_TLS_CERT)')
    .option('--tls-key <file>', 'PEM key of the client certificate (env EVOQUANT_TEMPORAL_TLS_KEY)')
    .option('--tls-server-name <name>', 'host name to verify the frontend\'s certificate against (env EVOQUANT_TEMPORAL_TLS_SERVER_NAME)')
    .hook('preAction', async () => {
      const flags = program.opts<TlsFlags>();
      const given = { ca: flags.tlsCa, cert: flags.tlsCert, key: flags.tlsKey, serverName: flags.tlsServerName };
      if (Object.values(given).every((v) => v === undefined)) return;
      const { loadTemporalTls, TLS_ENV, TLS_FLAGS, tlsSettingsFromEnv } = await import('../client/tls.js');
      // Flags win over the environment, field by field; errors name the flag that was given.
      const fromEnv = tlsSettingsFromEnv(process.env);
      const merged = { ...fromEnv };
      const labels = { ...TLS_FLAGS };
      for (const field of Object.keys(given) as Array<keyof typeof given>) {
        const value = given[field];
        if (value !== undefined) merged[field] = value;
        else if (fromEnv[field] !== undefined) labels[field] = TLS_ENV[field];
      }
      loadTemporalTls(merged, labels);
      for (const field of Object.keys(given) as Array<keyof typeof given>) {
        const value = given[field];
        // Absolute: a forked worker or a later chdir must find the same file.
        if (value !== undefined) process.env[TLS_ENV[field]] = field === 'serverName' ? value : path.resolve(value);
      }
    });
}
