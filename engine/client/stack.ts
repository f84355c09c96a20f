// The embedded stack as the CLI reaches it: start it, stop it, and where its state and caches are.
// The CLI goes through here (never engine/stack itself), so the client library stays its one door.
import type { Stack } from '../stack/stack.js';
import type { Endpoints } from './connection.js';

export { startStack, stopStack, stackStatus, type Stack, type StackOptions, type StackStatus } from '../stack/stack.js';
export { cacheDir, stateDir } from './paths.js';
export { maskPassword } from '../stack/redact.js';
export type { TemporalRecovery } from '../stack/temporal-server.js';

/** Where a stack this process started listens, as `resolveEndpoints` would report it. */
export function stackEndpoints(stack: Stack, stateDir: string): Endpoints {
  const uiPort = stack.temporal?.state.uiPort ?? null;
  return {
    temporalAddress: stack.temporalAddress,
    namespace: stack.temporalNamespace,
    databaseUrl: stack.databaseUrl,
    webUi: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
    source: { temporal: stack.temporal === undefined ? 'env' : 'stack', database: stack.postgres.external ? 'env' : 'stack' },
    stateDir,
    // The embedded stack serves plain gRPC on loopback; TLS is for remote frontends.
    tls: null,
  };
}
