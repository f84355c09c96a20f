// evoquant resume <id>: the `resume` update of a paused evolution.
import type { Command } from 'commander';
import { emit } from '../output.js';

export function registerResume(program: Command): void {
  program
    .command('resume')
    .description('resume a paused evolution')
    .argument('<id>', 'evolution id')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const { resolveEndpoints, withClient } = await import('../../client/connection.js');
      const { resumeEvolution } = await import('../../client/control.js');
      const { formatEvolutionStatus } = await import('../../client/format.js');
      const status = await withClient(resolveEndpoints(), (client) => resumeEvolution(client, id));
      emit(flags, status, () => formatEvolutionStatus(status).join('\n'));
    });
}
