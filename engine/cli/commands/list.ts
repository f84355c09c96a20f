// evoquant list: every evolution Temporal knows, newest first, with what Postgres adds (target).
import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { emit } from '../output.js';

interface ListFlags {
  limit?: number;
  json?: boolean;
}

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list evolutions with their status and start time')
    .option('--limit <n>', 'at most this many (default 100)', positiveInt('--limit'))
    .option('--json', 'print JSON')
    .action(async (flags: ListFlags) => {
      const { resolveEndpoints, withClient, withDatabase } = await import('../../client/connection.js');
      const { listEvolutionWorkflows } = await import('../../client/evolutions.js');
      const { table } = await import('../../client/format.js');
      const endpoints = resolveEndpoints();
      const entries = await withClient(endpoints, (client) => listEvolutionWorkflows(client, { limit: flags.limit }));

      // The target comes from the evolution's row; without a database the list is still useful.
      let targets = new Map<string, string>();
      if (endpoints.databaseUrl !== null && entries.length > 0) {
        const { evolutionTargets } = await import('../../client/targets.js');
        try {
          targets = await withDatabase(endpoints, (db) => evolutionTargets(db, entries.map((e) => e.id)));
        } catch (err) {
          process.stderr.write(`evoquant: targets left out (database: ${err instanceof Error ? err.message.split('\n')[0] : String(err)})\n`);
        }
      }
      const rows = entries.map((e) => ({ ...e, target: targets.get(e.id) ?? null }));
      emit(flags, rows, () =>
        rows.length === 0
          ? 'no evolutions yet (start one: evoquant start --config <file>)'
          : table(
              ['evolution', 'status', 'started', 'closed', 'target'],
              rows.map((r) => [r.id, r.workflowStatus.toLowerCase(), r.startTime, r.closeTime ?? '-', r.target ?? '-']),
            ).join('\n'),
      );
    });
}
