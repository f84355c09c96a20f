// JSON state files that let a later process (e.g. `evoquant down`) find services started earlier.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const TemporalState = z.object({
  pid: z.number().int().positive(),
  port: z.number().int().positive(),
  uiPort: z.number().int().positive().nullable(),
  address: z.string(),
  namespace: z.string(),
  dbFile: z.string(),
  logFile: z.string(),
  cli: z.string(),
  extraArgs: z.array(z.string()),
  startedAt: z.string(),
});
export type TemporalState = z.infer<typeof TemporalState>;

export const PostgresState = z.object({
  pid: z.number().int().positive(),
  port: z.number().int().positive(),
  rootDir: z.string(),
  dataDir: z.string(),
  logFile: z.string(),
  database: z.string(),
  user: z.string(),
  password: z.string(),
  url: z.string(),
  startedAt: z.string(),
});
export type PostgresState = z.infer<typeof PostgresState>;

/**
 * Where the Postgres files of a state dir live when the postgres OS user cannot reach the state dir
 * (root with a checkout in /root or a mktemp dir). Durable: kept by `down`, read by every `up`.
 */
export const PostgresLocation = z.object({
  rootDir: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path'),
  createdAt: z.string(),
});
export type PostgresLocation = z.infer<typeof PostgresLocation>;

export const temporalStateFile = (dir: string): string => path.join(dir, 'temporal.json');
export const postgresStateFile = (dir: string): string => path.join(dir, 'postgres.json');
export const postgresLocationFile = (dir: string): string => path.join(dir, 'postgres-location.json');

/** Parsed state, or undefined when the file is missing or unreadable (a stale or foreign file is not an error). */
export function readState<T>(file: string, schema: z.ZodType<T>): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Atomic write (temp + rename), owner-only: the Postgres state holds a password. */
export function writeState(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeState(file: string): void {
  rmSync(file, { force: true });
}
