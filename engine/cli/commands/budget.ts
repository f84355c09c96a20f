// evoquant budget <id> --generations N [--max-candidates M|none]: the `setBudget` update.
import type { Command } from 'commander';
import { positiveInt } from '../args.js';
import { UsageError } from '../errors.js';
import { emit } from '../output.js';

interface BudgetFlags {
  generations?: number;
  maxCandidates?: number | 'none';
  json?: boolean;
}

// Commander turns a parser's null into '', so 'none' travels as itself and becomes null below.
const maxCandidatesArg = (value: string): number | 'none' => (value === 'none' ? 'none' : positiveInt('--max-candidates')(value));

export function registerBudget(program: Command): void {
  program
    .command('budget')
    .description('change a running evolution\'s budget: total generations and/or evaluated candidates')
    .argument('<id>', 'evolution id')
    .option('--generations <n>', 'total generations (not below those already run)', positiveInt('--generations'))
    .option('--max-candidates <m>', 'stop after m measured candidates; "none" lifts the limit', maxCandidatesArg)
    .option('--json', 'print JSON')
    .action(async (id: string, flags: BudgetFlags) => {
      if (flags.generations === undefined && flags.maxCandidates === undefined) throw new UsageError('budget: give --generations and/or --max-candidates');
      const { resolveEndpoints, withClient } = await import('../../client/connection.js');
      const { setEvolutionBudget } = await import('../../client/control.js');
      const { formatEvolutionStatus } = await import('../../client/format.js');
      const budget = {
        ...(flags.generations !== undefined ? { generations: flags.generations } : {}),
        ...(flags.maxCandidates !== undefined ? { maxCandidates: flags.maxCandidates === 'none' ? null : flags.maxCandidates } : {}),
      };
      const status = await withClient(resolveEndpoints(), (client) => setEvolutionBudget(client, id, budget));
      emit(flags, status, () => formatEvolutionStatus(status).join('\n'));
    });
}
