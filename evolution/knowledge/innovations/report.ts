// Prints the seed graph's counts and servability table; --write-readme also rewrites README.md's
// `innovations` block (the only way that block changes).
import { writeReadmeBlocks } from '../../../scripts/readme-blocks.js';
import { innovationSeed } from './load.js';
import { INNOVATIONS_BLOCK, INNOVATIONS_COMMAND, innovationsReadme } from './readme.js';

const body = innovationsReadme(innovationSeed());
process.stdout.write(`${body}\n`);
if (process.argv.includes('--write-readme')) writeReadmeBlocks([{ name: INNOVATIONS_BLOCK, command: INNOVATIONS_COMMAND, body }]);
