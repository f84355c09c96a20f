// Where the engine keeps its state and caches, for commands that need a path but not the stack
// (kept apart from client/stack.ts so they do not load the Postgres and Temporal launchers).
export { cacheDir, repoRoot, stateDir } from '../stack/paths.js';
