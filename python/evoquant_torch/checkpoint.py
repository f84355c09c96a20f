"""Strict, layer-at-a-time reading of a Hugging Face safetensors checkpoint.

`Checkpoint.open` reads config.json and the safetensors headers only (no tensor data), and checks the
stored names against the architecture: a missing, unexpected or mis-shaped tensor is InvalidCheckpoint
naming it — never a silently re-initialised weight (transformers re-initialises Mixtral experts whose
names do not map). Tensors are then read one decoder layer at a time, so the full model never sits on
the device. MoE experts may be stored per expert (what save_pretrained writes) or fused 3-D
(`experts.gate_up_proj` [E, 2f, d] with gate rows first, `experts.down_proj` [E, d, f]: transformers 5's
in-memory layout); both are presented as per-expert 2-D weights.
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from safetensors import safe_open

from .architectures import ArchSpec, arch_from_config, linear_keys
from .errors import InvalidCheckpoint

_INDEX = "model.safetensors.index.json"
_SINGLE = "model.safetensors"
# Buffers some older checkpoints carry; transformers ignores them on load too.
_IGNORABLE = re.compile(r"^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$")
_LAYER = re.compile(r"^model\.layers\.(\d+)\.")
_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}


def _read_header(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise InvalidCheckpoint(f"{path.name} is not a safetensors file (too short)")
            (n,) = struct.unpack("<Q", raw)
            if n > 100 * 2**20:
                raise InvalidCheckpoint(f"{path.name} has an implausible safetensors header of {n} bytes")
            header = json.loads(f.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise InvalidCheckpoint(f"cannot read safetensors header of {path}: {e}") from None
    if not isinstance(header, dict):
        raise InvalidCheckpoint(f"{path.name} has a malformed safetensors header")
    header.pop("__metadata__", None)
    return header


def _dequant_module() -> ModuleType:
    try:
        from .quant import dequant  # pyquant's API (quant/dequant.py)
    except ImportError as e:
        raise InvalidCheckpoint(f"a compressed-tensors checkpoint needs evoquant_torch.quant.dequant, which is not available: {e}") from None
    return dequant


class Checkpoint:
    arch: ArchSpec
    path: Path
    quantized: bool

    def __init__(self, path: Path, config: dict, arch: ArchSpec, headers: dict[str, dict[str, Any]],
                 file_of: dict[str, Path]) -> None:
        self.path = path
        self.config = config
        self.arch = arch
        self._headers = headers  # tensor name -> {dtype, shape, data_offsets}
        self._file_of = file_of  # tensor name -> shard path
        self._handles: dict[Path, Any] = {}
        qc = config.get("quantization_config")
        self.quantized = isinstance(qc, dict) and qc.get("quant_method") == "compressed-tensors"
        self.quantization_config: dict | None = qc if self.quantized else None
        if isinstance(qc, dict) and not self.quantized:
            raise InvalidCheckpoint(f"quantization_config with quant_method {qc.get('quant_method')!r} is not supported (only compressed-tensors)")
        self._dequant: ModuleType | None = _dequant_module() if self.quantized else None
        names = set(headers)
        self.fused = any(n.endswith(".experts.gate_up_proj") for n in names)
        # Mixtral's MoE block is `block_sparse_moe` on disk; transformers 5 renames it `mlp` in memory.
        self._block_alias = arch.architecture == "mixtral" and not any(".block_sparse_moe." in n for n in names) and any(".mlp." in n for n in names)
        if self.fused and self.quantized:
            raise InvalidCheckpoint("a compressed-tensors checkpoint with fused 3-D experts is not supported")
        self._schemes: dict[str, dict | None] = {}
        self._compressed: set[str] = set()  # stored tensors of compressed modules (int codes, fp8, shapes)
        self._expected = self._expected_tensors()
        self._check(names)

    # ----- opening and strict checking -------------------------------------------------------

    @staticmethod
    def open(path: str) -> "Checkpoint":
        root = Path(path)
        if not root.is_dir():
            raise InvalidCheckpoint(f"checkpoint {path} is not a directory")
        try:
            config = json.loads((root / "config.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidCheckpoint(f"checkpoint {path} has no config.json") from None
        except (OSError, ValueError) as e:
            raise InvalidCheckpoint(f"config.json of {path} is unreadable: {e}") from None
        arch = arch_from_config(config)
        headers: dict[str, dict[str, Any]] = {}
        file_of: dict[str, Path] = {}
        if (root / _INDEX).is_file():
            try:
                weight_map = json.loads((root / _INDEX).read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise InvalidCheckpoint(f"{_INDEX} of {path} is malformed: {e}") from None
            if not isinstance(weight_map, dict):
                raise InvalidCheckpoint(f"{_INDEX} of {path} has no weight_map object")
            shards = sorted(set(weight_map.values()))
            for shard in shards:
                if not isinstance(shard, str) or "/" in shard or not (root / shard).is_file():
                    raise InvalidCheckpoint(f"{_INDEX} names shard {shard!r}, which is not in {path}")
                for name, info in _read_header(root / shard).items():
                    if weight_map.get(name) != shard:
                        raise InvalidCheckpoint(f"tensor {name} is in {shard} but {_INDEX} does not map it there")
                    headers[name] = info
                    file_of[name] = root / shard
            for name in weight_map:
                if name not in headers:
                    raise InvalidCheckpoint(f"{_INDEX} maps tensor {name} to {weight_map[name]}, which does not hold it")
        elif (root / _SINGLE).is_file():
            for name, info in _read_header(root / _SINGLE).items():
                headers[name] = info
                file_of[name] = root / _SINGLE
        else:
            raise InvalidCheckpoint(f"checkpoint {path} has neither {_SINGLE} nor {_INDEX}")
        return Checkpoint(root, config, arch, headers, file_of)

    def _stored(self, name: str) -> str:
        """Stored tensor name of a canonical HF name (Mixtral block alias)."""
        if self._block_alias:
            return name.replace(".block_sparse_moe.", ".mlp.")
        return name

    def _fused_name(self, layer: int, leaf: str) -> str:
        block = self.arch.module_name(layer, "router").rsplit(".", 1)[0]
        return self._stored(f"{block}.experts.{leaf}")

    def scheme(self, module: str) -> dict | None:
        """compressed-tensors scheme of a module (None: stored unquantized)."""
        if not self.quantized:
            return None
        if module not in self._schemes:
            assert self._dequant is not None and self.quantization_config is not None
            try:
                scheme = self._dequant.scheme_of(self.quantization_config, module)
                if scheme is not None:
                    self._dequant.module_tensor_suffixes(scheme)  # refuses formats it cannot read
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise InvalidCheckpoint(f"{self.path}: quantization_config for {module} is not readable: {e}") from None
            self._schemes[module] = scheme
        return self._schemes[module]

    def _module_entries(self, module: str, shape: tuple[int, ...]) -> dict[str, tuple[int, ...] | None]:
        scheme = self.scheme(module)
        if scheme is None:
            return {self._stored(module + ".weight"): shape}
        assert self._dequant is not None
        out, n = shape
        strategy = (scheme.get("weights") or {}).get("strategy")
        # What the header alone can tell of a compressed module (-1: any size); the dequantizer checks the rest.
        known: dict[str, tuple[int, ...]] = {"weight_shape": (2,), "weight_g_idx": (n,)}
        if scheme.get("format") == "pack-quantized":
            known["weight_packed"] = (out, -1)
        else:
            known["weight"] = (out, n)
        if strategy in ("group", "channel"):
            known["weight_scale"] = (out, -1)
        entries = {self._stored(f"{module}.{s.lstrip('.')}"): known.get(s.lstrip("."), None) for s in self._dequant.module_tensor_suffixes(scheme)}
        self._compressed.update(entries)
        return entries

    def _expected_tensors(self) -> dict[str, tuple[int, ...] | None]:
        """Stored name -> logical shape (None: a quantized tensor whose shape the dequantizer checks)."""
        a = self.arch
        exp: dict[str, tuple[int, ...] | None] = {}
        shapes = a.layer_shapes()
        linear = set(linear_keys(a))
        for layer in range(a.layers):
            for key, shape in shapes.items():
                if self.fused and key.startswith("experts."):
                    continue
                if key in linear:
                    exp.update(self._module_entries(a.module_name(layer, key), shape))
                else:
                    exp[self._stored(a.tensor_name(layer, key))] = shape
            if self.fused:
                f, d = a.moe_intermediate, a.hidden
                exp[self._fused_name(layer, "gate_up_proj")] = (a.experts, 2 * f, d)
                exp[self._fused_name(layer, "down_proj")] = (a.experts, d, f)
        for name, shape in a.other_shapes().items():
            if name == "lm_head.weight":
                exp.update(self._module_entries("lm_head", shape))
            else:
                exp[name] = shape
        return exp

    def _check(self, names: set[str]) -> None:
        missing = sorted(n for n in self._expected if n not in names)
        unexpected = sorted(n for n in names if n not in self._expected and not _IGNORABLE.match(n))
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise InvalidCheckpoint(f"{self.path}: missing tensor {missing[0]}{more}")
        if unexpected:
            more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
            raise InvalidCheckpoint(f"{self.path}: unexpected tensor {unexpected[0]}{more}")
        for name, shape in self._expected.items():
            info = self._headers[name]
            if shape is None:
                continue
            got = tuple(info.get("shape", ()))
            if len(got) != len(shape) or any(w != -1 and g != w for g, w in zip(got, shape)):
                want = ", ".join("*" if w == -1 else str(w) for w in shape)
                raise InvalidCheckpoint(f"{self.path}: tensor {name} has shape {list(got)}, expected [{want}]")
            if name not in self._compressed and info.get("dtype") not in _FLOAT_DTYPES:
                raise InvalidCheckpoint(f"{self.path}: tensor {name} has dtype {info.get('dtype')}, expected a float type")

    # ----- reading ---------------------------------------------------------------------------

    def _handle(self, file: Path) -> Any:
        h = self._handles.get(file)
        if h is None:
            h = safe_open(str(file), framework="pt", device="cpu")
            self._handles[file] = h
        return h

    def raw(self, hf_tensor_name: str) -> torch.Tensor:
        """A tensor as stored (dtype kept), on the CPU."""
        name = self._stored(hf_tensor_name) if hf_tensor_name not in self._file_of else hf_tensor_name
        if name not in self._file_of:
            raise InvalidCheckpoint(f"{self.path}: no tensor {hf_tensor_name}")
        try:
            return self._handle(self._file_of[name]).get_tensor(name)
        except Exception as e:  # a truncated or corrupt shard
            raise InvalidCheckpoint(f"{self.path}: cannot read tensor {name}: {e}") from None

    def _float(self, name: str, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        return self.raw(name).to(device).to(dtype)

    def _module(self, module: str, shape: tuple[int, ...], device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
        scheme = self.scheme(module)
        if scheme is None:
            return self._float(module + ".weight", device, dtype)
        assert self._dequant is not None
        tensors = {s.lstrip("."): self.raw(f"{module}.{s.lstrip('.')}").to(device) for s in self._dequant.module_tensor_suffixes(scheme)}
        try:
            w = self._dequant.dequantize_module(tensors, scheme)
        except (ValueError, RuntimeError, KeyError) as e:
            raise InvalidCheckpoint(f"{self.path}: cannot dequantize {module}: {e}") from None
        if tuple(w.shape) != shape:
            raise InvalidCheckpoint(f"{self.path}: module {module} dequantizes to shape {list(w.shape)}, expected {list(shape)}")
        return w.to(dtype)

    def layer(self, i: int, device: torch.device | str, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """The canonical tensors of decoder layer i on `device` (quantized modules dequantized)."""
        a = self.arch
        if not 0 <= i < a.layers:
            raise IndexError(f"layer {i} of {a.layers}")
        linear = set(linear_keys(a))
        out: dict[str, torch.Tensor] = {}
        for key, shape in a.layer_shapes().items():
            if self.fused and key.startswith("experts."):
                continue
            if key in linear:
                out[key] = self._module(a.module_name(i, key), shape, device, dtype)
            else:
                out[key] = self._float(a.tensor_name(i, key), device, dtype)
        if self.fused:
            f = a.moe_intermediate
            gate_up = self._float(self._fused_name(i, "gate_up_proj"), device, dtype)
            down = self._float(self._fused_name(i, "down_proj"), device, dtype)
            for e in range(a.experts):
                out[f"experts.{e}.gate"] = gate_up[e, :f]
                out[f"experts.{e}.up"] = gate_up[e, f:]
                out[f"experts.{e}.down"] = down[e]
        return out

    def embed(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return self._float("model.embed_tokens.weight", device, dtype)

    def final_norm(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return self._float("model.norm.weight", device, dtype)

    def lm_head(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The output projection [vocab, hidden]; the embedding when tied."""
        if self.arch.tie_embeddings:
            return self.embed(device, dtype)
        return self._module("lm_head", (self.arch.vocab, self.arch.hidden), device, dtype)

    def layer_tensor_names(self, i: int) -> list[str]:
        return sorted(n for n in self._headers if (m := _LAYER.match(n)) and int(m.group(1)) == i)

    def other_tensor_names(self) -> list[str]:
        return sorted(n for n in self._headers if not _LAYER.match(n))

    def stored_bytes(self) -> int:
        return sum(int(h["data_offsets"][1]) - int(h["data_offsets"][0]) for h in self._headers.values())

    def layer_stored_bytes(self, i: int) -> int:
        return sum(int(self._headers[n]["data_offsets"][1]) - int(self._headers[n]["data_offsets"][0]) for n in self.layer_tensor_names(i))

    def header_digest_source(self) -> bytes:
        """config.json + every safetensors header (names, dtypes, shapes, offsets): the identity of the weights for caches."""
        cfg = json.dumps(self.config, sort_keys=True).encode()
        # Headers alone cannot tell two random initialisations of one shape apart: the shards' place,
        # size and modification time are part of the identity too.
        files = json.dumps([[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in sorted(set(self._file_of.values()))]).encode()
        heads = json.dumps({n: [h.get("dtype"), h.get("shape"), h.get("data_offsets"), self._file_of[n].name] for n, h in sorted(self._headers.items())}, sort_keys=True).encode()
        return cfg + b"\0" + files + b"\0" + heads
