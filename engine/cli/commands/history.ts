// evoquant history <id> [--generation N]: every activity of the evolution's generations from
// Temporal's event histories: attempts, why earlier ones failed, durations, worker identities.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { emit } from '../output.js';

interface HistoryFlags {
  generation?: number;
  json?: boolean;
}

const generationArg = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--generation: expected a generation number (0, 1, …), got "${value}"`);
  return n;
};

export function registerHistory(program: Command): void {
  program
    .command('history')
    .description('activities of an evolution from Temporal\'s event history: attempts, failures, durations, workers')
    .argument('<id>', 'evolution id')
    .option('--generation <n>', 'only generation n (workflow <id>/gen-<n>)', generationArg)
    .option('--json', 'print JSON')
    .action(async (id: string, flags: HistoryFlags) => {
      const { resolveEndpoints, withClient } = await import('../../client/connection.js');
      const { fetchEvolutionHistory } = await import('../../client/history-fetch.js');
      const { formatWorkflowHistory } = await import('../../client/format.js');
      const history = await withClient(resolveEndpoints(), (client) => fetchEvolutionHistory(client, id, { generation: flags.generation }));
      emit(flags, history, () =>
        // The evolution's own workflow is always there; until it has run an activity there is nothing to show.
        history.workflows.every((w) => w.workflowId === id && w.activities.length === 0)
          ? `${id}: no generation has started yet`
          : history.workflows.map((w) => formatWorkflowHistory(w).join('\n')).join('\n\n'),
      );
    });
}
