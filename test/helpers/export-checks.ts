// Reads each text export back the way its tool does and returns the spec every module of the proxy
// receives, so tests compare it with the spec the quantized model stored. Semantics mirrored:
// GPTQModel 7.7 dynamic (pcre match from the start, insertion order, first match wins, `-:` skips);
// compressed-tensors 0.19 targets/ignore (`re:` + re.match, exact names otherwise); llama-quantize
// (std::regex_search over lower-cased patterns, first match wins).
import { parse } from 'yaml';
import type { ConfigGroup, LlmCompressorRecipe, WeightArgs } from '../../science/export/llmcompressor.js';
import type { GptqModelConfig, GptqOverride } from '../../science/export/gptqmodel.js';

/** GPTQModel: the override a module gets, `false` for skipped, null for "base config". */
export function gptqDynamicFor(config: GptqModelConfig, name: string): GptqOverride | false | null {
  for (const [key, value] of Object.entries(config.dynamic)) {
    const negative = key.startsWith('-:');
    const raw = key.startsWith('-:') || key.startsWith('+:') ? key.slice(2) : key;
    const m = new RegExp(raw).exec(name);
    if (m && m.index === 0) return negative ? false : (value as GptqOverride);
  }
  return null;
}

/** The effective {bits, group_size, sym} GPTQModel uses for a module, or 16 bits when it is skipped. */
export function gptqEffective(config: GptqModelConfig, name: string): GptqOverride {
  const d = gptqDynamicFor(config, name);
  if (d === false) return { bits: 16, group_size: -1, sym: true };
  if (name === 'lm_head' && !config.lm_head) return { bits: 16, group_size: -1, sym: true };
  return { bits: config.bits, group_size: config.group_size, sym: config.sym, ...(d ?? {}) };
}

function ctMatch(name: string, target: string): boolean {
  if (target.startsWith('re:')) {
    const m = new RegExp(target.slice(3)).exec(name);
    return m !== null && m.index === 0;
  }
  return target === name;
}

export interface LlmcTarget {
  modifier: string;
  ignored: boolean;
  groups: Array<{ name: string; group: ConfigGroup }>;
}

export function parseLlmCompressor(text: string): { recipe: LlmCompressorRecipe; modifier: string; args: Record<string, unknown> } {
  const recipe = parse(text) as LlmCompressorRecipe;
  const stages = Object.entries(recipe);
  if (stages.length !== 1 || !stages[0][0].endsWith('_stage')) throw new Error('one *_stage expected');
  const groups = Object.entries(stages[0][1]);
  if (groups.length !== 1 || !groups[0][0].endsWith('_modifiers')) throw new Error('one *_modifiers group expected');
  const mods = Object.entries(groups[0][1]);
  if (mods.length !== 1) throw new Error('one modifier expected');
  return { recipe, modifier: mods[0][0], args: mods[0][1] as unknown as Record<string, unknown> };
}

/** What llm-compressor does with one module: ignored, and the config groups whose targets match it. */
export function llmcTargetFor(args: Record<string, unknown>, name: string): { ignored: boolean; weights: WeightArgs[] } {
  const ignore = (args.ignore ?? []) as string[];
  const groups = Object.values((args.config_groups ?? {}) as Record<string, ConfigGroup>);
  return { ignored: ignore.some((t) => ctMatch(name, t)), weights: groups.filter((g) => g.targets.some((t) => ctMatch(name, t))).map((g) => g.weights) };
}

export interface TensorTypeLine {
  regex: string;
  type: string;
}

/** tools/quantize/quantize.cpp: whitespace-separated `name=type` tokens; the name is lower-cased. */
export function parseTensorTypeFile(text: string): TensorTypeLine[] {
  return text
    .split(/\s+/)
    .filter((t) => t !== '')
    .map((tok) => {
      const eq = tok.indexOf('=');
      if (eq <= 0 || eq === tok.length - 1) throw new Error(`malformed tensor type ${tok}`);
      return { regex: tok.slice(0, eq).toLowerCase(), type: tok.slice(eq + 1).toLowerCase() };
    });
}

export function llamaTypeFor(lines: readonly TensorTypeLine[], tensor: string): string | null {
  return lines.find((l) => new RegExp(l.regex).test(tensor))?.type ?? null;
}
