"""fp8 codes are bit-identical to science/quantization/fp8.ts, and every packed module round-trips
through compressed-tensors 0.17's own decompression (ModelCompressor.decompress_model over modules
its apply_quantization_config matched from our quantization_config) to exactly evoquant's grid values."""
from __future__ import annotations

import unittest

import numpy as np
import torch
from compressed_tensors import ModelCompressor
from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32
from compressed_tensors.quantization import QuantizationConfig, QuantizationStatus, apply_quantization_config
from compressed_tensors.utils import replace_direct_state_dict

from evoquant_torch.pack import module_tensors, pack_weight_codes, pack_zero_points, quantization_config, unpack_rows
from evoquant_torch.quant.dequant import dequantize_module, module_tensor_suffixes, scheme_of
from evoquant_torch.quant.fp8 import decode_e4m3, dequantize_fp8_groups, encode_e4m3, fp8_quantize
from evoquant_torch.quant.grid import dequantize_int_groups
from evoquant_torch.quant.rtn import rtn_quantize

from .quant_oracle import proxy_tensor, run_oracle
from .test_quant_rtn import adversarial

torch.set_num_threads(1)


def int_spec(bits: int, gs: int | str, sym: bool) -> dict:
    return {"bits": bits, "format": "int", "groupSize": gs, "symmetric": sym, "method": {"kind": "rtn"}}


FP8 = {"bits": 8, "format": "fp8", "groupSize": "channel", "symmetric": True, "method": {"kind": "rtn"}}
BF16 = {"bits": 16, "format": "int", "groupSize": "channel", "symmetric": True, "method": {"kind": "rtn"}}


class Fp8Conformance(unittest.TestCase):
    def test_bit_identical_to_typescript(self) -> None:
        tensors = {"up": proxy_tensor("model.layers.0.mlp.experts.5.up_proj.weight"), "v": proxy_tensor("model.layers.1.self_attn.v_proj.weight"), "adv": adversarial(64, 256)}
        jobs = [{"name": f"{t}-{gs}", "kind": "fp8", "weight": w, "bits": 8, "groupSize": gs, "symmetric": True} for t, w in tensors.items() for gs in ("channel", 32)]
        oracle = run_oracle(jobs)
        for job in jobs:
            got = fp8_quantize(job["weight"], job["groupSize"])
            want = oracle[job["name"]]
            np.testing.assert_array_equal(got.codes.numpy(), want.codes, err_msg=job["name"])
            np.testing.assert_array_equal(got.scales.view(torch.int16).numpy().view(np.uint16), want.scales, err_msg=job["name"])

    def test_codec_matches_torch_float8_where_it_does_not_saturate(self) -> None:
        codes = torch.arange(256, dtype=torch.int64).to(torch.uint8)
        finite = (codes.to(torch.int64) & 0x7F) != 0x7F
        ours = decode_e4m3(codes)[finite]
        theirs = codes.view(torch.float8_e4m3fn).to(torch.float64)[finite]
        self.assertTrue(torch.equal(ours, theirs))
        # float32 inputs, so torch's float32 -> e4m3 cast rounds once, like the table search.
        x = (torch.randn(100_000, generator=torch.Generator().manual_seed(3)) * 50).to(torch.float64)
        x = torch.cat([x, decode_e4m3(torch.arange(126, dtype=torch.uint8)) * 1.0000001, (decode_e4m3(torch.arange(125, dtype=torch.uint8)) + decode_e4m3(torch.arange(1, 126, dtype=torch.uint8))) / 2])
        x = x.to(torch.float32).to(torch.float64)
        self.assertTrue(torch.equal(encode_e4m3(x), x.to(torch.float32).to(torch.float8_e4m3fn).view(torch.uint8)))
        self.assertEqual(encode_e4m3(torch.tensor([1e6, -1e6], dtype=torch.float64)).tolist(), [126, 254])


class PackLayout(unittest.TestCase):
    def test_words_are_what_vllm_loads_and_compressed_tensors_packs(self) -> None:
        """A dense LSB-first bitstream per row, ceil(cols*b/32) words (vLLM 0.33's packed_input_dim):
        word for word compressed-tensors' own pack_to_int32 for 2, 4 and 8 bits; for 3 bits
        compressed-tensors packs 10 codes a word instead, and the two layouts differ."""
        g = torch.Generator().manual_seed(4)
        for bits in (2, 3, 4, 8):
            codes = torch.randint(0, 1 << bits, (37, 200), generator=g, dtype=torch.int64).to(torch.uint8)
            packed = pack_weight_codes(codes, bits)
            self.assertEqual(packed.shape[1], -(-(200 * bits) // 32), bits)
            self.assertTrue(torch.equal(unpack_rows(packed, bits, 200), codes.to(torch.int32)), bits)
            word = packed[5].to(torch.int64) % 2**32
            for c in (0, 1, 10, 11, 31, 199):  # value c sits at bits [c*b, (c+1)*b) of the row's stream
                v = sum((((int(word[(c * bits + k) // 32]) >> ((c * bits + k) % 32)) & 1) << k) for k in range(bits))
                self.assertEqual(v, int(codes[5, c]), (bits, c))
            signed = (codes.to(torch.int16) - (1 << (bits - 1))).to(torch.int8)
            same = torch.equal(packed, pack_to_int32(signed, bits))
            self.assertEqual(same, bits != 3, bits)
            if bits != 3:
                self.assertTrue(torch.equal(pack_zero_points(codes[:, :6], bits), pack_to_int32(signed[:, :6], bits, packed_dim=0)), bits)


class PackRoundTrip(unittest.TestCase):
    def test_compressed_tensors_decompresses_to_our_grid_values(self) -> None:
        cases = [
            ("model.layers.0.mlp.experts.0.gate_proj", "model.layers.0.mlp.experts.0.gate_proj.weight", int_spec(4, 32, False)),
            ("model.layers.0.mlp.experts.1.gate_proj", "model.layers.0.mlp.experts.1.gate_proj.weight", int_spec(4, 32, False)),
            ("model.layers.0.mlp.experts.0.down_proj", "model.layers.0.mlp.experts.0.down_proj.weight", int_spec(2, 64, True)),
            ("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.q_proj.weight", int_spec(8, "channel", True)),
            ("model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.q_proj.weight", int_spec(4, 128, True)),
            # (no 3-bit case: compressed-tensors 0.17 unpacks 3 bits 10 to a word, vLLM's layout is dense)
            ("model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.k_proj.weight", int_spec(8, 32, False)),
            ("model.layers.1.self_attn.v_proj", "model.layers.1.self_attn.v_proj.weight", int_spec(2, "channel", False)),
            ("model.layers.1.self_attn.o_proj", "model.layers.1.self_attn.o_proj.weight", FP8),
            ("model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.k_proj.weight", BF16),
        ]
        root = torch.nn.Module()
        stored: dict[str, torch.Tensor] = {}
        expected: dict[str, torch.Tensor] = {}
        for name, tensor, spec in cases:
            w = proxy_tensor(tensor)
            parent = root
            for part in name.split(".")[:-1]:
                if not hasattr(parent, part):
                    parent.add_module(part, torch.nn.Module())
                parent = getattr(parent, part)
            parent.add_module(name.split(".")[-1], torch.nn.Linear(w.shape[1], w.shape[0], bias=False))
            if spec["bits"] == 16:
                continue
            if spec["format"] == "fp8":
                g = fp8_quantize(w, "channel")
                expected[name] = dequantize_fp8_groups(g, "channel")
            else:
                g = rtn_quantize(w, spec["bits"], spec["groupSize"], spec["symmetric"])
                expected[name] = dequantize_int_groups(g, spec["bits"], spec["groupSize"])
            stored.update(module_tensors(name, spec, g))
        qc = quantization_config([(n, s) for n, _, s in cases if s["bits"] != 16], [n for n, _, s in cases if s["bits"] == 16], num_experts=8)
        # The stored tensors are exactly the ones our reader expects.
        for name, _, spec in cases:
            scheme = scheme_of(qc, name)
            self.assertEqual(scheme is None, spec["bits"] == 16, name)
            if scheme is not None:
                self.assertEqual(sorted(f"{name}.{s}" for s in module_tensor_suffixes(scheme)), sorted(k for k in stored if k.startswith(name + ".")))
        # compressed-tensors parses the config, matches our regex targets and decompresses.
        compressor = ModelCompressor(quantization_config=QuantizationConfig.model_validate(qc))
        apply_quantization_config(root, compressor.quantization_config)
        for name, mod in root.named_modules():
            if hasattr(mod, "quantization_scheme"):
                replace_direct_state_dict(mod, {k[len(name) + 1 :]: v for k, v in stored.items() if k.startswith(name + ".")})
                mod.quantization_status = QuantizationStatus.COMPRESSED
        matched = {n for n, m in root.named_modules() if hasattr(m, "quantization_scheme")}
        self.assertEqual(matched, set(expected))
        compressor.decompress_model(root)
        for name, want in expected.items():
            theirs = root.get_submodule(name).weight.detach().to(torch.float32)
            scheme = scheme_of(qc, name)
            assert scheme is not None
            ours = dequantize_module({s: stored[f"{name}.{s}"] for s in module_tensor_suffixes(scheme)}, scheme)
            self.assertTrue(torch.equal(theirs, want), name)
            self.assertTrue(torch.equal(ours, want), name)


if __name__ == "__main__":
    unittest.main()
