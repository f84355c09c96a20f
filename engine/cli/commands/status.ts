// evoquant status <id> [--follow]: the evolution's own view (the `status` query) while it runs,
// its result once it has closed.
import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { emit } from '../output.js';

interface StatusFlags {
  follow?: boolean;
  interval?: number;
  json?: boolean;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('status of an evolution: phase, generation, candidate counts, best and frontier')
    .argument('<id>', 'evolution id')
    .option('--follow', 're-print on every change until the evolution closes')
    .option('--interval <seconds>', 'poll interval with --follow (default 2)', positiveInt('--interval'))
    .option('--json', 'print JSON (one document per line with --follow)')
    .action(async (id: string, flags: StatusFlags) => {
      const { resolveEndpoints, withClient } = await import('../../client/connection.js');
      const { evolutionStatus, followEvolutionStatus } = await import('../../client/evolutions.js');
      const { formatStatusReport } = await import('../../client/format.js');
      await withClient(resolveEndpoints(), async (client) => {
        if (!flags.follow) {
          const report = await evolutionStatus(client, id);
          emit(flags, report, () => formatStatusReport(report).join('\n'));
          return;
        }
        const stop = new AbortController();
        const onSignal = (): void => stop.abort();
        process.once('SIGINT', onSignal);
        try {
          let first = true;
          for await (const report of followEvolutionStatus(client, id, { intervalMs: (flags.interval ?? 2) * 1000, signal: stop.signal })) {
            if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
            else process.stdout.write(`${first ? '' : '\n'}[${new Date().toISOString()}]\n${formatStatusReport(report).join('\n')}\n`);
            first = false;
          }
        } finally {
          process.removeListener('SIGINT', onSignal);
        }
      });
    });
}
