// Where in the proxy's forward pass a calibration statistic is taken: the input of one (group of)
// linear module(s). A property of the model's structure, read by modules.ts and by compression.

/** Where a calibration statistic was captured: the input of one (group of) linear module(s). */
export type CalibrationSite =
  | { kind: 'attention_input'; layer: number }
  | { kind: 'attention_output_input'; layer: number }
  | { kind: 'moe_input'; layer: number }
  | { kind: 'expert_input'; layer: number; expert: number }
  | { kind: 'expert_down_input'; layer: number; expert: number }
  /** A dense layer's MLP: the input of gate/up, and of down. */
  | { kind: 'mlp_input'; layer: number }
  | { kind: 'mlp_down_input'; layer: number }
  | { kind: 'head_input' };

export function siteKey(site: CalibrationSite): string {
  switch (site.kind) {
    case 'head_input':
      return site.kind;
    case 'expert_input':
    case 'expert_down_input':
      return `${site.kind}/${site.layer}/${site.expert}`;
    default:
      return `${site.kind}/${site.layer}`;
  }
}
