// Makes sure the Temporal CLI exists before a test run starts many servers: found, or built once
// with `go install` (progress every 30 s), or downloaded. `npm test` runs this before ava, so no
// test file ever builds it inside a before hook (ava's timeout would kill the build).
import { resolveTemporalCli, temporalCliPath } from '../engine/stack/temporal-cli.js';

const cli = await resolveTemporalCli();
const path = await temporalCliPath(cli);
console.log(`temporal CLI: ${path} (${cli.kind === 'path' ? cli.source : 'downloaded now'})`);
