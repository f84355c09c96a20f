import test from 'ava';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBrown } from '../science/corpus/brown.js';
import { modelHash } from '../science/model/load.js';
import { SensitivityProfile } from '../schema/sensitivity.js';
import { cachedSensitivity } from '../science/sensitivity/cache.js';
import { expertSensitivityScores } from '../science/sensitivity/measure.js';
import { PROXY_DIR, proxy } from './helpers/proxy.js';

test('the sensitivity profile covers every layer, role and expert, is cached, and orders bit widths', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'sens-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const cacheDir = join(home, 'cache');
  const { weights } = proxy();
  const c = weights.config;
  const hash = modelHash(PROXY_DIR);
  const options = { tokens: 512, bits: [2, 8] as const };
  const first = await cachedSensitivity(cacheDir, weights, hash, loadBrown().train, { ...options, bits: [...options.bits] });
  t.false(first.cached);
  const profile = SensitivityProfile.parse(first.profile);
  // Per layer: q, k, v, o, router and each expert; plus embeddings and lm_head.
  t.is(profile.entries.length, c.num_hidden_layers * (5 + c.num_experts) + 2);
  const worse = profile.entries.filter((e) => e.klBits['2'] > e.klBits['8']).length;
  t.true(worse >= profile.entries.length - 2, `2-bit hurts more than 8-bit in ${worse}/${profile.entries.length} blocks`);
  const scores = expertSensitivityScores(profile, c.num_hidden_layers, c.num_experts);
  t.true(scores.every((layer) => layer.every((s) => s > 0)));
  const second = await cachedSensitivity(cacheDir, weights, hash, loadBrown().train, { ...options, bits: [...options.bits] });
  t.true(second.cached);
  t.deepEqual(second.profile, first.profile);
  t.is(readdirSync(cacheDir).filter((f) => f.startsWith('sensitivity-')).length, 1);
});
