// evoquant pause <id>: the `pause` update; the generation in flight finishes, the next waits for resume.
import type { Command } from 'commander';
import { emit } from '../output.js';

export function registerPause(program: Command): void {
  program
    .command('pause')
    .description('pause an evolution: the generation in flight finishes, no new one starts until resume')
    .argument('<id>', 'evolution id')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const { resolveEndpoints, withClient } = await import('../../client/connection.js');
      const { pauseEvolution } = await import('../../client/control.js');
      const { formatEvolutionStatus } = await import('../../client/format.js');
      const status = await withClient(resolveEndpoints(), (client) => pauseEvolution(client, id));
      emit(flags, status, () => formatEvolutionStatus(status).join('\n'));
    });
}
