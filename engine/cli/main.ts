// The evoquant command line.
import { Command, CommanderError } from 'commander';
import { registerBaselines } from './commands/baselines.js';
import { registerCompile } from './commands/compile.js';
import { registerDemo } from './commands/demo.js';
import { registerEval } from './commands/eval.js';
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
import { reportAndExit } from './errors.js';

const program = new Command('evoquant')
  .description('evolve compression recipes until a model fits its target hardware')
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `evoquant: ${s.slice(7)}` : s) });

registerCompile(program);
registerQuantize(program);
registerEval(program);
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

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; any usage error (unknown option, missing argument) exits 2.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  reportAndExit(err);
}
