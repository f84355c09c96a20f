// Model directories that disagree with themselves, made from the committed proxy for bad-input tests.
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_DIR } from './proxy.js';

export const PROXY_CONFIG = JSON.parse(readFileSync(join(PROXY_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;

/** A model dir with the given config.json text and the proxy's weights (linked, not copied). */
export function modelDirWithConfig(dir: string, configText: string, weights: 'link' | 'copy' = 'link'): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), configText);
  if (weights === 'copy') copyFileSync(join(PROXY_DIR, 'model.safetensors'), join(dir, 'model.safetensors'));
  else symlinkSync(join(PROXY_DIR, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

/** A model dir whose config is the proxy's with fields replaced. */
export function modelDirWith(dir: string, changes: Record<string, unknown>): string {
  return modelDirWithConfig(dir, JSON.stringify({ ...PROXY_CONFIG, ...changes }));
}

/** A safetensors file from a raw header object and a data section of `dataBytes` zero bytes. */
export function rawSafetensors(header: unknown, dataBytes = 0): Buffer {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + head.length + dataBytes);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  return out;
}

/** A model dir with the proxy's config and a hand-made model.safetensors. */
export function modelDirWithWeights(dir: string, weights: Buffer): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(PROXY_CONFIG));
  writeFileSync(join(dir, 'model.safetensors'), weights);
  return dir;
}
