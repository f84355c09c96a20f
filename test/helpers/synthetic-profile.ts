// A sensitivity profile of the committed proxy's shape with made-up KLs (decreasing in bits): the
// allocation's physics does not depend on the numbers, and a fresh clone has no measured profile.
import { loadModel } from '../../science/compression/quantized-format.js';
import { modelHash } from '../../science/model/load.js';
import { proxyModules } from '../../science/model/modules.js';
import type { SensitivityProfile } from '../../schema/sensitivity.js';
import { PROXY_DIR } from './proxy.js';

const proxyConfig = loadModel(PROXY_DIR).config;
const PROXY_HASH = modelHash(PROXY_DIR);

export function syntheticProfile(rand: () => number, hash = PROXY_HASH): SensitivityProfile {
  const kl = (): Record<string, number> => {
    const k2 = rand() * 0.05;
    return { '2': k2, '3': k2 * (0.1 + 0.3 * rand()), '4': k2 * 0.05 * rand(), '8': k2 * 1e-4 * rand() };
  };
  const entries: SensitivityProfile['entries'] = [];
  for (const m of proxyModules(proxyConfig)) {
    if (m.expert === null) entries.push({ block: { kind: 'role', role: m.role, layer: m.layer, expert: null }, params: m.inFeatures * m.outFeatures, klBits: kl() });
    else if (m.role === 'expert_gate') entries.push({ block: { kind: 'expert', role: null, layer: m.layer, expert: m.expert }, params: 3 * m.inFeatures * m.outFeatures, klBits: kl() });
  }
  const L = proxyConfig.num_hidden_layers;
  const E = proxyConfig.num_experts;
  return { version: 1, modelHash: hash, groupSize: 128, bits: [2, 3, 4, 8], tokens: 2048, entries, routingFrequency: Array.from({ length: L }, () => new Array<number>(E).fill(1 / E)) };
}

export function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
