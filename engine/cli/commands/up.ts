// evoquant up: the embedded stack in the background (Postgres + Temporal dev server on a SQLite
// file, Web UI on), migrated; it outlives this command until `evoquant down`.
import type { Command } from 'commander';
import type { TemporalRecovery } from '../../client/stack.js';
import { emit } from '../output.js';

/** What `up` says when it brought back a server whose process had died. */
function recoveryLines(recovered: TemporalRecovery | null, address: string): string[] {
  if (recovered === null) return [];
  return recovered.sameAddress
    ? [`  (Temporal had stopped (pid ${recovered.previousPid}); brought back on its recorded address)`]
    : [`  (Temporal had stopped; ${recovered.previousAddress} was taken, so it now listens on ${address}; workers started from this state dir follow)`];
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start the embedded stack (Postgres + Temporal with Web UI) in the background and migrate it; DATABASE_URL / TEMPORAL_ADDRESS select external services')
    .option('--json', 'print JSON')
    .option('--show-secrets', 'print the Postgres URL with its password (masked otherwise)')
    .action(async (flags: { json?: boolean; showSecrets?: boolean }) => {
      const { startStack, stateDir, maskPassword } = await import('../../client/stack.js');
      const stack = await startStack({ mode: 'detached' });
      const uiPort = stack.temporal?.state.uiPort ?? null;
      const result = {
        stateDir: stateDir(),
        temporal: {
          address: stack.temporalAddress,
          namespace: stack.temporalNamespace,
          external: stack.temporal === undefined,
          pid: stack.temporal?.pid ?? null,
          dbFile: stack.temporal?.state.dbFile ?? null,
          recovered: stack.temporal?.recovered ?? null,
        },
        webUi: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
        postgres: {
          url: flags.showSecrets === true ? stack.databaseUrl : maskPassword(stack.databaseUrl),
          external: stack.postgres.external,
          dataDir: stack.postgres.dataDir ?? null,
        },
      };
      emit(flags, result, () =>
        [
          `evoquant stack is up (state in ${result.stateDir})`,
          `  Temporal:  ${result.temporal.address} (namespace ${result.temporal.namespace})${result.temporal.external ? ' — external, from TEMPORAL_ADDRESS' : ''}`,
          ...recoveryLines(result.temporal.recovered, result.temporal.address),
          ...(result.webUi ? [`  Web UI:    ${result.webUi}`] : []),
          `  Postgres:  ${result.postgres.url}${result.postgres.external ? ' — external, from DATABASE_URL' : ''}${result.postgres.url.includes(':***@') ? ' (--show-secrets prints the password)' : ''}`,
          'next: evoquant worker control & evoquant worker gpu --device-class cpu & evoquant start --config <file>',
        ].join('\n'),
      );
    });
}
