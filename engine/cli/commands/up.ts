// evoquant up: the embedded stack in the background (Postgres + Temporal dev server on a SQLite
// file, Web UI on), migrated; it outlives this command until `evoquant down`.
import type { Command } from 'commander';
import { emit } from '../output.js';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start the embedded stack (Postgres + Temporal with Web UI) in the background and migrate it; DATABASE_URL / TEMPORAL_ADDRESS select external services')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { startStack, stateDir } = await import('../../client/stack.js');
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
        },
        webUi: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
        postgres: { url: stack.databaseUrl, external: stack.postgres.external },
      };
      emit(flags, result, () =>
        [
          `evoquant stack is up (state in ${result.stateDir})`,
          `  Temporal:  ${result.temporal.address} (namespace ${result.temporal.namespace})${result.temporal.external ? ' — external, from TEMPORAL_ADDRESS' : ''}`,
          ...(result.webUi ? [`  Web UI:    ${result.webUi}`] : []),
          `  Postgres:  ${result.postgres.url}${result.postgres.external ? ' — external, from DATABASE_URL' : ''}`,
          'next: evoquant worker control & evoquant worker gpu --device-class cpu & evoquant start --config <file>',
        ].join('\n'),
      );
    });
}
