// Secrets stay out of what evoquant prints and out of the compose file's defaults.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from '../engine/stack/paths.js';
import { maskPassword } from '../engine/stack/redact.js';

test('the password of a database URL is masked; the rest stays readable', (t) => {
  t.is(maskPassword('postgres://postgres:s3cr%40t@127.0.0.1:5432/evoquant'), 'postgres://postgres:***@127.0.0.1:5432/evoquant');
  t.is(maskPassword('postgres://u:p@db.example:6543/x?sslmode=require'), 'postgres://u:***@db.example:6543/x?sslmode=require');
  t.is(maskPassword('postgres://u@host/db'), 'postgres://u@host/db', 'no password, nothing to mask');
  t.is(maskPassword('postgres:///db'), 'postgres:///db');
  const unparsable = maskPassword('postgres://u:p w[@host:/db');
  t.false(unparsable.includes('p w['), unparsable);
});

test('docker-compose.yml has no default password: every use requires EVOQUANT_PG_PASSWORD, with a message', (t) => {
  const compose = readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8');
  const uses = compose.match(/\$\{EVOQUANT_PG_PASSWORD[^}]*\}/g) ?? [];
  t.true(uses.length >= 4, `found ${uses.length}`);
  for (const use of uses) t.regex(use, /^\$\{EVOQUANT_PG_PASSWORD:\?set EVOQUANT_PG_PASSWORD .+\}$/, use);
  t.notRegex(compose, /EVOQUANT_PG_PASSWORD:?-/, 'no fallback value');
  t.notRegex(compose, /evoquant:evoquant@/, 'no password in the examples');
  // Nothing else in the file names a password directly.
  for (const line of compose.split('\n').filter((l) => /PASSWORD|_PWD/.test(l) && !l.trimStart().startsWith('#'))) {
    t.regex(line, /\$\{EVOQUANT_PG_PASSWORD:\?/, line);
  }
});
