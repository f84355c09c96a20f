// Forward pass of the dense long-context proxy (Llama layout: RMSNorm, RoPE, GQA, SwiGLU), with the
// KV cache stored as a policy says: layers whose cache is quantized attend over what the cache would
// return (kv-cache/store.ts), so the degradation measured is the policy's, not an estimate.
import { resolveKvLayer, isUnquantizedKv, type KvPolicy } from '../../schema/kv-policy.js';
import type { DenseProxyConfig } from '../../schema/dense-proxy-config.js';
import { attention, type AttentionShape } from '../kernels/attention.js';
import { cachedAttention, projectQkv } from '../kernels/attention-kv.js';
import { linear } from '../kernels/matmul.js';
import { swigluExpert } from '../kernels/swiglu-expert.js';
import { PromiseCache } from '../caching/promise-cache.js';
import { precisionMasks, type PrecisionMasks } from '../kv-cache/precision-masks.js';
import { storeKv } from '../kv-cache/store.js';
import { addInPlace, concat, rmsNorm, ropeTables } from './ops.js';
import * as names from './tensor-names.js';

export interface DenseWeights {
  config: DenseProxyConfig;
  /** Effective float32 weights by HF tensor name (dequantized if the model was quantized). */
  tensors: ReadonlyMap<string, Float32Array>;
}

/** Taps on the activations weight quantizers calibrate on. Rows are [count, width] row-major. */
export interface DenseObserver {
  attentionInput?(layer: number, rows: Float32Array, count: number): void;
  attentionOutputInput?(layer: number, rows: Float32Array, count: number): void;
  mlpInput?(layer: number, rows: Float32Array, count: number): void;
  mlpDownInput?(layer: number, rows: Float32Array, count: number): void;
  headInput?(rows: Float32Array, count: number): void;
}

export interface DenseForwardOptions {
  /** How the KV cache is stored; absent: bf16, nothing simulated. */
  kv?: KvPolicy;
  observer?: DenseObserver;
}

interface LayerWeights {
  inputNorm: Float32Array;
  postNorm: Float32Array;
  qkv: Float32Array;
  o: Float32Array;
  gateUp: Float32Array;
  down: Float32Array;
}

export class DenseModel {
  readonly config: DenseProxyConfig;
  private readonly embed: Float32Array;
  private readonly finalNorm: Float32Array;
  private readonly lmHead: Float32Array;
  private readonly layers: LayerWeights[] = [];
  private readonly shapes = new Map<number, AttentionShape>();
  private readonly masks = new PromiseCache<PrecisionMasks>();

  constructor(weights: DenseWeights) {
    const c = weights.config;
    const d = c.hidden_size;
    const kvWidth = c.num_key_value_heads * c.head_dim;
    const qWidth = c.num_attention_heads * c.head_dim;
    const tensor = (name: string, elements: number): Float32Array => {
      const t = weights.tensors.get(name);
      if (!t) throw new Error(`dense model: missing tensor ${name}`);
      if (t.length !== elements) throw new Error(`dense model: ${name} has ${t.length} elements, the config needs ${elements}`);
      return t;
    };
    this.config = c;
    const f = c.intermediate_size;
    this.embed = tensor(names.EMBED, c.vocab_size * d);
    this.finalNorm = tensor(names.FINAL_NORM, d);
    this.lmHead = tensor(names.LM_HEAD, c.vocab_size * d);
    for (let l = 0; l < c.num_hidden_layers; l++) {
      this.layers.push({
        inputNorm: tensor(names.inputNormTensor(l), d),
        postNorm: tensor(names.postAttnNormTensor(l), d),
        qkv: concat([tensor(names.attnTensor(l, 'q'), qWidth * d), tensor(names.attnTensor(l, 'k'), kvWidth * d), tensor(names.attnTensor(l, 'v'), kvWidth * d)]),
        o: tensor(names.attnTensor(l, 'o'), d * qWidth),
        gateUp: concat([tensor(names.mlpTensor(l, 'gate'), f * d), tensor(names.mlpTensor(l, 'up'), f * d)]),
        down: tensor(names.mlpTensor(l, 'down'), d * f),
      });
    }
  }

  private attentionShape(seq: number): AttentionShape {
    let shape = this.shapes.get(seq);
    if (!shape) {
      const c = this.config;
      shape = { hidden: c.hidden_size, heads: c.num_attention_heads, kvHeads: c.num_key_value_heads, headDim: c.head_dim, seq, ...ropeTables(seq, c.head_dim, c.rope_theta) };
      this.shapes.set(seq, shape);
    }
    return shape;
  }

  /** Logits [batch·seq, vocab] for `batch` sequences of `seq` byte tokens each (row-major [batch, seq]). */
  async forward(tokens: Uint8Array | Int32Array, batch: number, seq: number, options: DenseForwardOptions = {}): Promise<Float32Array> {
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
    const observer = options.observer ?? {};
    for (let l = 0; l < this.layers.length; l++) await this.runLayer(l, x, batch, seq, options.kv, observer);
    const hf = rmsNorm(x, this.finalNorm, n, d, c.rms_norm_eps);
    observer.headInput?.(hf, n);
    return linear(hf, this.lmHead, n, d, c.vocab_size);
  }

  private async runLayer(l: number, x: Float32Array, batch: number, seq: number, kv: KvPolicy | undefined, observer: DenseObserver): Promise<void> {
    const c = this.config;
    const d = c.hidden_size;
    const n = batch * seq;
    const w = this.layers[l];
    const h = rmsNorm(x, w.inputNorm, n, d, c.rms_norm_eps);
    observer.attentionInput?.(l, h, n);
    const attn = await this.attend(l, h, batch, seq, kv);
    observer.attentionOutputInput?.(l, attn.context, n);
    addInPlace(x, attn.output);
    const h2 = rmsNorm(x, w.postNorm, n, d, c.rms_norm_eps);
    observer.mlpInput?.(l, h2, n);
    const mlp = await swigluExpert(h2, n, d, c.intermediate_size, w.gateUp, w.down);
    observer.mlpDownInput?.(l, mlp.hidden, n);
    addInPlace(x, mlp.output);
  }

  private async attend(l: number, h: Float32Array, batch: number, seq: number, kv: KvPolicy | undefined): Promise<{ context: Float32Array; output: Float32Array }> {
    const c = this.config;
    const shape = this.attentionShape(seq);
    const w = this.layers[l];
    const policy = kv ? resolveKvLayer(kv, l, c.num_hidden_layers) : null;
    if (!policy || isUnquantizedKv(policy)) return attention(shape, h, batch * seq, w.qkv, w.o);
    const projections = await projectQkv(shape, h, batch * seq, w.qkv);
    const kvShape = { batch, kvHeads: c.num_key_value_heads, seq, headDim: c.head_dim };
    const stored = storeKv(policy, kvShape, projections.keysPreRope, projections.keys, projections.values, shape);
    const rep = c.num_attention_heads / c.num_key_value_heads;
    const masks = await this.masks.get(`${JSON.stringify(policy)}:${seq}`, async () => precisionMasks(policy, seq, rep));
    return cachedAttention(shape, batch, { projections, storedKeys: stored.keys, storedValues: stored.values, keyFullMask: masks.keys, valueFullMask: masks.values, wo: w.o });
  }
}
