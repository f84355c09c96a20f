// Both services for an integration test file: one Postgres and one Temporal, started once in
// test.before and stopped in test.after.always. Each test takes its own fresh database.
import type { TestFn } from 'ava';
import { usePostgres, type TestPostgres } from './postgres.js';
import { useTemporal, type TestTemporal, type TestTemporalOptions } from './temporal.js';

export interface TestStack {
  postgres: TestPostgres;
  temporal: TestTemporal;
}

/**
 *   const stack = useStack(test);
 *   test.serial('...', async (t) => {
 *     const { db, url } = await stack().postgres.freshDatabase();   // migrated
 *     const client = await stack().temporal.client();
 *   });
 */
export function useStack<C>(test: TestFn<C>, temporalOptions: TestTemporalOptions = {}): () => TestStack {
  const postgres = usePostgres(test);
  const temporal = useTemporal(test, temporalOptions);
  return () => ({ postgres: postgres(), temporal: temporal() });
}
