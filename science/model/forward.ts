// Forward pass of the proxy MoE transformer: RMSNorm, RoPE attention with grouped KV heads,
// top-k routed SwiGLU experts. GEMMs go to onnxruntime; the rest are row loops.
import { attention, type AttentionShape } from '../kernels/attention.js';
import { linear } from '../kernels/matmul.js';
import { swigluExpert } from '../kernels/swiglu-expert.js';
import type { ProxyConfig } from '../../schema/proxy-config.js';
import { addInPlace, concat, rmsNorm, ropeTables, softmaxRows } from './ops.js';
import * as names from './tensor-names.js';

/** Effective float32 weights by HF tensor name (dequantized if the model was quantized). */
export interface ProxyWeights {
  config: ProxyConfig;
  tensors: ReadonlyMap<string, Float32Array>;
}

/** Taps on the activations that quantizers calibrate on. Rows are [count, width] row-major. */
export interface ForwardObserver {
  /** Input of q/k/v (shared). */
  attentionInput?(layer: number, rows: Float32Array, count: number): void;
  /** Input of o_proj. */
  attentionOutputInput?(layer: number, rows: Float32Array, count: number): void;
  /** Input of the router and of every expert's gate/up; with router probabilities [count, E] and top-k ids [count, k]. */
  moeInput?(layer: number, rows: Float32Array, count: number, probs: Float32Array, topExperts: Int32Array): void;
  /** Input of one expert's down_proj, for the tokens routed to it. */
  expertDownInput?(layer: number, expert: number, rows: Float32Array, count: number): void;
  /** Input of lm_head. */
  headInput?(rows: Float32Array, count: number): void;
}

export interface ForwardResult {
  /** [batch*seq, vocab] */
  logits: Float32Array;
  /** Tokens routed to each expert, [layer][expert]. */
  expertCounts: number[][];
}

interface LayerWeights {
  inputNorm: Float32Array;
  postNorm: Float32Array;
  qkv: Float32Array;
  o: Float32Array;
  router: Float32Array;
  /** gate rows then up rows, [2f, d] per expert: one GEMM instead of two. */
  gateUp: Float32Array[];
  down: Float32Array[];
}

function tensor(weights: ProxyWeights, name: string): Float32Array {
  const t = weights.tensors.get(name);
  if (!t) throw new Error(`proxy model: missing tensor ${name}`);
  return t;
}

export class ProxyModel {
  readonly config: ProxyConfig;
  private readonly embed: Float32Array;
  private readonly finalNorm: Float32Array;
  private readonly lmHead: Float32Array;
  private readonly layers: LayerWeights[];
  private attnShape: AttentionShape | null = null;

  constructor(weights: ProxyWeights) {
    const c = weights.config;
    this.config = c;
    this.embed = tensor(weights, names.EMBED);
    this.finalNorm = tensor(weights, names.FINAL_NORM);
    this.lmHead = tensor(weights, names.LM_HEAD);
    this.layers = [];
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const gateUp: Float32Array[] = [];
      const down: Float32Array[] = [];
      for (let e = 0; e < c.num_experts; e++) {
        gateUp.push(concat([tensor(weights, names.expertTensor(l, e, 'gate')), tensor(weights, names.expertTensor(l, e, 'up'))]));
        down.push(tensor(weights, names.expertTensor(l, e, 'down')));
      }
      this.layers.push({
        inputNorm: tensor(weights, names.inputNormTensor(l)),
        postNorm: tensor(weights, names.postAttnNormTensor(l)),
        qkv: concat([tensor(weights, names.attnTensor(l, 'q')), tensor(weights, names.attnTensor(l, 'k')), tensor(weights, names.attnTensor(l, 'v'))]),
        o: tensor(weights, names.attnTensor(l, 'o')),
        router: tensor(weights, names.routerTensor(l)),
        gateUp,
        down,
      });
    }
  }

  private attentionShape(seq: number): AttentionShape {
    if (!this.attnShape || this.attnShape.seq !== seq) {
      const c = this.config;
      this.attnShape = {
        hidden: c.hidden_size,
        heads: c.num_attention_heads,
        kvHeads: c.num_key_value_heads,
        headDim: c.head_dim,
        seq,
        ...ropeTables(seq, c.head_dim, c.rope_theta),
      };
    }
    return this.attnShape;
  }

  /** Logits for `batch` sequences of `seq` byte tokens each (row-major [batch, seq]). */
  async forward(tokens: Uint8Array | Int32Array, batch: number, seq: number, observer: ForwardObserver = {}): Promise<ForwardResult> {
    const x = this.embedTokens(tokens, batch, seq);
    const expertCounts: number[][] = [];
    for (let l = 0; l < this.layers.length; l++) expertCounts.push(await this.runLayer(l, x, batch, seq, observer));
    return { logits: await this.head(x, batch * seq, observer), expertCounts };
  }

  /** Residual stream [batch*seq, hidden] after the embedding lookup. */
  embedTokens(tokens: Uint8Array | Int32Array, batch: number, seq: number): Float32Array {
    const c = this.config;
    const d = c.hidden_size;
    const n = batch * seq;
    if (tokens.length !== n) throw new RangeError(`forward: expected ${n} tokens, got ${tokens.length}`);
    if (seq > c.max_position_embeddings) throw new RangeError(`forward: sequence ${seq} exceeds ${c.max_position_embeddings}`);
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const tok = tokens[i];
      if (tok < 0 || tok >= c.vocab_size) throw new RangeError(`forward: token ${tok} out of vocabulary`);
      x.set(this.embed.subarray(tok * d, (tok + 1) * d), i * d);
    }
    return x;
  }

  /** Applies decoder layer `l` to the residual stream in place; returns tokens routed per expert. */
  async runLayer(l: number, x: Float32Array, batch: number, seq: number, observer: ForwardObserver = {}): Promise<number[]> {
    const c = this.config;
    const d = c.hidden_size;
    const n = batch * seq;
    const w = this.layers[l];
    const h = rmsNorm(x, w.inputNorm, n, d, c.rms_norm_eps);
    observer.attentionInput?.(l, h, n);
    const attn = await attention(this.attentionShape(seq), h, n, w.qkv, w.o);
    observer.attentionOutputInput?.(l, attn.context, n);
    addInPlace(x, attn.output);
    const h2 = rmsNorm(x, w.postNorm, n, d, c.rms_norm_eps);
    const { out, counts } = await this.moe(l, h2, n, w, observer);
    addInPlace(x, out);
    return counts;
  }

  /** Final norm and lm_head: logits [n, vocab]. */
  async head(x: Float32Array, n: number, observer: ForwardObserver = {}): Promise<Float32Array> {
    const c = this.config;
    const hf = rmsNorm(x, this.finalNorm, n, c.hidden_size, c.rms_norm_eps);
    observer.headInput?.(hf, n);
    return linear(hf, this.lmHead, n, c.hidden_size, c.vocab_size);
  }

  /** silu(gate·x) ⊙ (up·x) of one expert for the given rows: the input of its down_proj. */
  async expertHidden(layer: number, expert: number, rows: Float32Array, count: number): Promise<Float32Array> {
    const c = this.config;
    const w = this.layers[layer];
    return (await swigluExpert(rows, count, c.hidden_size, c.moe_intermediate_size, w.gateUp[expert], w.down[expert])).hidden;
  }

  private async moe(layer: number, h: Float32Array, n: number, w: LayerWeights, observer: ForwardObserver): Promise<{ out: Float32Array; counts: number[] }> {
    const c = this.config;
    const d = c.hidden_size;
    const E = c.num_experts;
    const k = c.num_experts_per_tok;
    const f = c.moe_intermediate_size;
    // A model whose experts were pruned or merged (compression/expert-reduction.ts) has fewer router
    // rows: this softmax over the experts that remain is the original one renormalised over them.
    const probs = await linear(h, w.router, n, d, E);
    softmaxRows(probs, n, E);
    const top = new Int32Array(n * k);
    const gates = new Float32Array(n * k);
    const rowsOf: number[][] = Array.from({ length: E }, () => []);
    const slotOf: number[][] = Array.from({ length: E }, () => []);
    for (let r = 0; r < n; r++) {
      selectTopK(probs, r * E, E, k, top, gates, r * k);
      let sum = 0;
      for (let s = 0; s < k; s++) sum += gates[r * k + s];
      for (let s = 0; s < k; s++) {
        if (c.norm_topk_prob) gates[r * k + s] /= sum;
        rowsOf[top[r * k + s]].push(r);
        slotOf[top[r * k + s]].push(r * k + s);
      }
    }
    observer.moeInput?.(layer, h, n, probs, top);
    const out = new Float32Array(n * d);
    const counts = rowsOf.map((rows) => rows.length);
    await Promise.all(
      rowsOf.map(async (rows, e) => {
        if (rows.length === 0) return;
        const m = rows.length;
        const xe = new Float32Array(m * d);
        rows.forEach((r, i) => xe.set(h.subarray(r * d, (r + 1) * d), i * d));
        const { hidden, output: y } = await swigluExpert(xe, m, d, f, w.gateUp[e], w.down[e]);
        observer.expertDownInput?.(layer, e, hidden, m);
        for (let i = 0; i < m; i++) {
          const gate = gates[slotOf[e][i]];
          const o = rows[i] * d;
          for (let j = 0; j < d; j++) out[o + j] += gate * y[i * d + j];
        }
      }),
    );
    return { out, counts };
  }
}

/** Indices and values of the k largest of probs[o .. o+E), largest first; ties go to the lower index like torch.topk. */
function selectTopK(probs: Float32Array, o: number, E: number, k: number, top: Int32Array, gates: Float32Array, outOff: number): void {
  for (let s = 0; s < k; s++) {
    let best = -1;
    let bestP = -Infinity;
    for (let e = 0; e < E; e++) {
      let taken = false;
      for (let t = 0; t < s; t++) if (top[outOff + t] === e) taken = true;
      if (!taken && probs[o + e] > bestP) {
        bestP = probs[o + e];
        best = e;
      }
    }
    top[outOff + s] = best;
    gates[outOff + s] = bestP;
  }
}
