// The quantized proxy as every text exporter sees it: each linear module with its place in the
// model (role, layer, expert, projection), its shape and the spec it was stored with. The specs come
// from the directory's quantization_config (what quantize really did), not from re-resolving the recipe.
import { loadModel, type QuantizationConfig } from '../compression/quantized-format.js';
import { ModelLoadError } from '../model/load.js';
import { proxyModules } from '../model/modules.js';
import type { ProxyConfig } from '../../schema/proxy-config.js';
import type { ModuleRole, QuantSpec, Recipe } from '../../schema/recipe.js';
import { echo } from '../../schema/echo.js';

export type Projection = 'embed' | 'q' | 'k' | 'v' | 'o' | 'router' | 'gate' | 'up' | 'down' | 'lm_head';

const PROJECTION: Partial<Record<ModuleRole, Projection>> = {
  embeddings: 'embed',
  attn_q: 'q',
  attn_k: 'k',
  attn_v: 'v',
  attn_o: 'o',
  router: 'router',
  expert_gate: 'gate',
  expert_up: 'up',
  expert_down: 'down',
  lm_head: 'lm_head',
};

export interface ExportModule {
  /** evoquant's tensor name (Qwen3-MoE layout), e.g. model.layers.0.mlp.experts.3.gate_proj.weight. */
  tensor: string;
  role: ModuleRole;
  projection: Projection;
  layer: number | null;
  expert: number | null;
  inFeatures: number;
  outFeatures: number;
  spec: QuantSpec;
}

export interface QuantizedModelView {
  dir: string;
  config: ProxyConfig;
  recipe: Recipe;
  quantization: QuantizationConfig;
  modules: ExportModule[];
}

/** Reads and checks a quantized proxy directory; refuses an unquantized one. */
export function readQuantizedModel(dir: string): QuantizedModelView {
  const weights = loadModel(dir);
  const q = weights.quantization;
  if (!q) throw new ModelLoadError(`model: ${echo(dir)} is not quantized (config.json has no quantization_config); run evoquant quantize first`);
  const modules = proxyModules(weights.config).map((m): ExportModule => {
    const stored = Object.hasOwn(q.modules, m.tensor) ? q.modules[m.tensor] : undefined;
    if (!stored) throw new ModelLoadError(`model: ${echo(dir)}/config.json: quantization_config.modules lacks ${m.tensor}`);
    const projection = PROJECTION[m.role];
    if (!projection) throw new ModelLoadError(`model: ${echo(dir)}: module ${m.tensor} has role ${m.role}, which the proxy does not have`);
    return { tensor: m.tensor, role: m.role, projection, layer: m.layer, expert: m.expert, inFeatures: m.inFeatures, outFeatures: m.outFeatures, spec: stored.spec };
  });
  return { dir, config: weights.config, recipe: q.recipe, quantization: q, modules };
}

/** A spec as a stable string: modules with equal keys are stored identically. */
export function specKey(spec: QuantSpec | QuantSpec["method"]): string {
  return stableJson(spec);
}

function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
}
