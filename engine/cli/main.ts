// The evoquant command line.
import { Command, CommanderError } from 'commander';
import { registerAllocate } from './commands/allocate.js';
import { registerBaselines } from './commands/baselines.js';
import { registerCompile } from './commands/compile.js';
import { registerDemo } from './commands/demo.js';
import { registerEval } from './commands/eval.js';
import { registerExport } from './commands/export.js';
import { registerQuantize } from './commands/quantize.js';
import { registerUp } from './commands/up.js';
import { registerDown } from './commands/down.js';
import { registerWorker } from './commands/worker.js';
import { registerStart } from './commands/start.js';
import { registerStatus } from './commands/status.js';
import { registerList } from './commands/list.js';
import { registerHistory } from './commands/history.js';
import { registerSteeringCommands } from './commands/steer.js';
import { registerBudget } from './commands/budget.js';
import { registerRetry } from './commands/retry.js';
import { registerLineage } from './commands/lineage.js';
import { registerExplain } from './commands/explain.js';
import { registerDiscoveries } from './commands/discoveries.js';
import { checkCommandIds } from './args.js';
import { reportAndExit } from './errors.js';
import { oneLine } from './output.js';
import { registerTlsFlags } from './tls-flags.js';

const program = new Command('evoquant')
  .description('evolve compression recipes until a model fits its target hardware')
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `evoquant: ${oneLine(s.slice(7))}\n` : s) })
  // Ids are validated once, here, for every command, before any command connects anywhere.
  .hook('preAction', (_program, action) => checkCommandIds(action));

registerTlsFlags(program);
registerCompile(program);
registerAllocate(program);
registerQuantize(program);
registerEval(program);
registerExport(program);
registerBaselines(program);
registerDemo(program);
registerUp(program);
registerDown(program);
registerWorker(program);
registerStart(program);
registerStatus(program);
registerList(program);
registerHistory(program);
registerSteeringCommands(program); // pause, resume, stop
registerBudget(program);
registerRetry(program);
registerLineage(program);
registerExplain(program);
registerDiscoveries(program);

// The loop drained while the command still awaited (a promise nothing will settle): Node would exit
// 13 in silence. Say so, and exit 1 like any other internal failure.
let settled = false;
process.once('beforeExit', () => {
  if (settled) return;
  process.stderr.write('evoquant: internal error: the command stopped before finishing (set EVOQUANT_DEBUG=1 and report it)\n');
  process.exit(1);
});

try {
  await program.parseAsync(process.argv);
  settled = true;
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; any usage error (unknown option, missing argument) exits 2.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  reportAndExit(err);
}
