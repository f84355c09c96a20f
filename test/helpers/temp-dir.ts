// Temp dirs for service state. Mode 0755 because Postgres runs as the `postgres` user when the
// tests run as root, and it must reach its data dir below this one.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `evoquant-${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
