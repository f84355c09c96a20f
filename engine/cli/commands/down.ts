// evoquant down: stop the embedded stack `evoquant up` started; its data stays on disk.
import type { Command } from 'commander';
import { emit } from '../output.js';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop the embedded stack (data stays in the state dir)')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { stopStack, stateDir } = await import('../../client/stack.js');
      const dir = stateDir();
      const outcome = await stopStack(dir);
      emit(flags, { stateDir: dir, ...outcome }, () =>
        outcome.temporal === 'not-running' && outcome.postgres === 'not-running'
          ? `no evoquant stack was running for ${dir}`
          : `stopped: Temporal ${outcome.temporal}, Postgres ${outcome.postgres} (data kept in ${dir}${outcome.postgresRoot.startsWith(`${dir}/`) ? '' : ` and ${outcome.postgresRoot}`})`,
      );
    });
}
