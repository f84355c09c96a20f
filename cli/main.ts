// The evoquant command line.
import { Command, CommanderError } from 'commander';
import { registerBaselines } from './commands/baselines.js';
import { registerCompile } from './commands/compile.js';
import { registerEval } from './commands/eval.js';
import { registerQuantize } from './commands/quantize.js';
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

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version exit 0; any usage error (unknown option, missing argument) exits 2.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  reportAndExit(err);
}
