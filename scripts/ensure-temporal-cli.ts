// Resolves (and if need be builds) the Temporal CLI once, before a test run starts many servers.
import { resolveTemporalCli, temporalCliPath } from '../engine/stack/temporal-cli.js';

const cli = await resolveTemporalCli();
const path = await temporalCliPath(cli);
console.log(`temporal CLI: ${path}${cli.kind === 'path' ? ` (${cli.source})` : ' (downloaded)'}`);
