// evoquant stop <id>: the `stop` update; graceful, the generation in flight finishes first.
import type { Command } from 'commander';
import { emit } from '../output.js';

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('stop an evolution gracefully: the generation in flight finishes, then it completes')
    .argument('<id>', 'evolution id')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      const { resolveEndpoints, withClient } = await import('../../client/connection.js');
      const { stopEvolution } = await import('../../client/control.js');
      const { formatEvolutionStatus } = await import('../../client/format.js');
      const status = await withClient(resolveEndpoints(), (client) => stopEvolution(client, id));
      emit(flags, status, () => formatEvolutionStatus(status).join('\n'));
    });
}
