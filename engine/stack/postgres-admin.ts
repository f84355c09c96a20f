// Cluster-level SQL (CREATE/DROP DATABASE) that no migration can run: it needs a connection to
// another database of the same server.
import pg from 'pg';

const DUPLICATE_DATABASE = '42P04';
const INVALID_CATALOG_NAME = '3D000';

/** The same server and credentials as `url`, another database. */
export function urlOfDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Database name of a postgres:// URL. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

async function withAdminClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  // The maintenance database `postgres` always exists; the target may not yet.
  const client = new pg.Client({ connectionString: urlOfDatabase(url, 'postgres') });
  client.on('error', () => undefined); // a server shutdown mid-call surfaces through the query promise
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * CREATE DATABASE unless it exists; true when created. Connects to the target first, so a role that
 * may not open the maintenance database (hosted servers) still works when its database exists.
 */
export async function ensureDatabase(url: string, name: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: urlOfDatabase(url, name) });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== INVALID_CATALOG_NAME) throw err;
  } finally {
    await probe.end().catch(() => undefined);
  }
  return withAdminClient(url, async (client) => {
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === DUPLICATE_DATABASE) return false; // lost a race: fine
      throw err;
    }
  });
}

/** DROP DATABASE IF EXISTS, closing other sessions on it first (PG 13+ FORCE). */
export async function dropDatabase(url: string, name: string): Promise<void> {
  await withAdminClient(url, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  });
}
