// Manual KV-cache policies: the hand-made caches a long-context recipe is compared against, each
// named for the stack or paper it comes from. The evolution searches the genes between them.
import { KvPolicy, type KvPolicyInput } from '../../schema/kv-policy.js';

export interface ManualKvPolicy {
  name: string;
  /** Where it comes from, in a few words. */
  origin: string;
  /** Absent: bf16 (no kvCache gene). */
  policy: KvPolicy | undefined;
}

const kv = (p: KvPolicyInput): KvPolicy => KvPolicy.parse(p);
const per = (format: 'int8' | 'int4' | 'int2', axis: 'token' | 'channel', groupSize: 16 | 32 | 64 | 128) => ({ format, axis, groupSize }) as const;

export const MANUAL_KV_POLICIES: readonly ManualKvPolicy[] = [
  { name: 'kv-bf16', origin: 'unquantized', policy: undefined },
  { name: 'kv-fp8', origin: 'vLLM --kv-cache-dtype fp8 (e4m3, per-layer k/v scales)', policy: kv({ keys: { format: 'fp8_e4m3' }, values: { format: 'fp8_e4m3' } }) },
  { name: 'kv-int8-token', origin: 'int8 per token and head, asymmetric (reference)', policy: kv({ keys: per('int8', 'token', 128), values: per('int8', 'token', 128) }) },
  { name: 'kv-int4-token', origin: 'uniform int4 per token, groups of 32 (llama.cpp q4_1)', policy: kv({ keys: per('int4', 'token', 32), values: per('int4', 'token', 32) }) },
  {
    name: 'kv-kivi4',
    origin: 'KIVI: int4 keys per channel, values per token, g32, 128-token bf16 window',
    policy: kv({ keys: per('int4', 'channel', 32), values: per('int4', 'token', 32), recentWindow: 128 }),
  },
  {
    name: 'kv-kivi2-sinks',
    origin: 'KIVI-2 with IntactKV: int2 keys per channel, values per token, g32, window 128, 4 sinks',
    policy: kv({ keys: per('int2', 'channel', 32), values: per('int2', 'token', 32), recentWindow: 128, sinkTokens: 4 }),
  },
];
