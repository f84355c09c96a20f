// Runs the dated migrations in migrations/ with kysely's Migrator (which serialises concurrent
// runs with a lock table, so every worker may call migrateToLatest at boot).
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Migrator, NO_MIGRATIONS, type Kysely, type Migration, type MigrationInfo, type MigrationProvider, type MigrationResult } from 'kysely';

export const migrationsDir: string = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** `2026_11_26_0001_name.ts`: the date and a sequence number keep the order obvious. */
const MIGRATION_FILE = /^(\d{4}_\d{2}_\d{2}_\d{4}_[a-z0-9_-]+)\.(ts|js|mjs)$/;

/**
 * Like kysely's FileMigrationProvider, but strict: only dated names count, and a dated file without
 * both `up` and `down` is an error rather than silently skipped.
 */
export class DatedMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string = migrationsDir) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of (await readdir(this.folder)).sort()) {
      const match = MIGRATION_FILE.exec(file);
      if (match === null || file.endsWith('.d.ts')) continue;
      const name = match[1] as string;
      if (name in migrations) throw new Error(`migration ${name} exists twice in ${this.folder}`);
      const module: unknown = await import(pathToFileURL(path.join(this.folder, file)).href);
      migrations[name] = asMigration(module, file);
    }
    return migrations;
  }
}

function asMigration(module: unknown, file: string): Migration {
  const m = module as { up?: unknown; down?: unknown };
  if (typeof m.up !== 'function' || typeof m.down !== 'function') {
    throw new Error(`migration ${file} must export async functions up(db) and down(db)`);
  }
  return { up: m.up as Migration['up'], down: m.down as NonNullable<Migration['down']> };
}

/** Migrations are typed against no particular schema (they describe its history), so any Kysely will do. */
export function createMigrator<DB>(db: Kysely<DB>, folder: string = migrationsDir): Migrator {
  return new Migrator({ db: db as unknown as Kysely<unknown>, provider: new DatedMigrationProvider(folder) });
}

/** Throws the migration's own error (with the names that ran) when one fails. */
function unwrap(outcome: { error?: unknown; results?: MigrationResult[] }): MigrationResult[] {
  if (outcome.error !== undefined) {
    const failed = outcome.results?.find((r) => r.status === 'Error')?.migrationName;
    const cause = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    throw new Error(`migration ${failed ?? '(setup)'} failed: ${cause}`, { cause: outcome.error });
  }
  return outcome.results ?? [];
}

export async function migrateToLatest<DB>(db: Kysely<DB>, folder?: string): Promise<MigrationResult[]> {
  return unwrap(await createMigrator(db, folder).migrateToLatest());
}

/** Undo the last `steps` migrations. */
export async function migrateDown<DB>(db: Kysely<DB>, steps = 1, folder?: string): Promise<MigrationResult[]> {
  const migrator = createMigrator(db, folder);
  const results: MigrationResult[] = [];
  for (let i = 0; i < steps; i++) results.push(...unwrap(await migrator.migrateDown()));
  return results;
}

/** Undo everything. */
export async function migrateToNone<DB>(db: Kysely<DB>, folder?: string): Promise<MigrationResult[]> {
  return unwrap(await createMigrator(db, folder).migrateTo(NO_MIGRATIONS));
}

export async function listMigrations<DB>(db: Kysely<DB>, folder?: string): Promise<readonly MigrationInfo[]> {
  return createMigrator(db, folder).getMigrations();
}
