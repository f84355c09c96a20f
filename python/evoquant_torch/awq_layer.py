"""AWQ over one decoder layer, in the form a serving stack can run: a compressed-tensors checkpoint has
no per-input-channel scale tensor, so every s folds into the op that produces the module's input,
exactly as science/export/compressed-tensors/awq-fold.ts does it:
  input_layernorm /= s for q/k/v (one s searched jointly: science/compression/awq-shared-input.ts);
  post_attention_layernorm /= s for the experts' (or the dense MLP's) gate/up, the bf16 router's
  columns *= s (kept bf16) so routing still sees x;
  up_proj's output rows /= s for down_proj (its input is silu(gate x) * up x).
Refused, as awq-fold refuses them: o_proj scales (they would fold into v_proj rows shared by several
query heads), quantized readers of one input that do not all take the one shared s (a per-module s, a
non-AWQ quantized reader, another alpha grid). lm_head's s folds into the final norm (quantize.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .architectures import ArchSpec, linear_keys
from .awq_capture import AwqCapture
from .calibrate import site_of
from .errors import InvalidRequest, MemoryMeter, UnsupportedRecipe
from .quant.awq import AwqMember, awq_quantize, awq_search_shared_scales
from .quant.grid import GroupedCodes

Spec = dict[str, Any]

RULE_SHARED = "vllm.awq.fold-shared-input"
RULE_O_PROJ = "export.compressed-tensors.awq-o-proj"


def is_awq(spec: Spec) -> bool:
    return spec["bits"] != 16 and spec["format"] == "int" and spec["method"]["kind"] == "awq"


def _shared(spec: Spec) -> bool:
    return spec["method"].get("scales") == "shared-input"


@dataclass(frozen=True)
class SharedInput:
    """One input read by several modules: where its mean |x| comes from, the norm s folds into, its readers,
    and the bf16 modules that must see x rather than x/s (their columns are multiplied by s)."""

    site: str
    norm: str
    readers: list[str]
    compensated: list[str]


def shared_inputs(arch: ArchSpec) -> list[SharedInput]:
    keys = linear_keys(arch)
    groups = [SharedInput("attention_input", "input_norm", [k for k in ("q", "k", "v") if k in keys], [])]
    if arch.moe:
        readers = [k for k in keys if (k.startswith("experts.") and k.rsplit(".", 1)[1] in ("gate", "up")) or k in ("shared.gate", "shared.up")]
        groups.append(SharedInput("moe_input", "post_norm", readers, ["router"]))
    else:
        groups.append(SharedInput("mlp_input", "post_norm", [k for k in ("mlp.gate", "mlp.up") if k in keys], []))
    return groups


def down_up_pairs(arch: ArchSpec) -> list[tuple[str, str]]:
    """(down key, the up key whose output rows feed its input)."""
    keys = set(linear_keys(arch))
    return [(k, k[: -len("down")] + "up") for k in linear_keys(arch) if k.endswith(".down") and k[: -len("down")] + "up" in keys]


def check_awq_layer(arch: ArchSpec, i: int, specs: dict[str, Spec]) -> None:
    """UnsupportedRecipe for what awq-fold.ts refuses in layer i."""
    name = lambda k: arch.module_name(i, k)  # noqa: E731
    if "o" in specs and is_awq(specs["o"]):
        raise UnsupportedRecipe(f"{name('o')}: o_proj AWQ scales would have to fold into v_proj rows shared by several query heads (rule {RULE_O_PROJ})")
    for g in shared_inputs(arch):
        awq = [k for k in g.readers if is_awq(specs[k])]
        if not awq:
            continue
        grid = specs[awq[0]]["method"]["scaleGrid"]
        for k in g.readers:
            s = specs[k]
            if s["bits"] == 16:
                continue
            if not is_awq(s) or not _shared(s) or s["method"]["scaleGrid"] != grid:
                raise UnsupportedRecipe(
                    f"{name(k)}: the modules reading one input ({name(awq[0])} ...) must all take one AWQ scale "
                    f"(method awq with scales shared-input and one scaleGrid) so that a norm can absorb it (rule {RULE_SHARED})")


def awq_sites(arch: ArchSpec, specs: dict[str, Spec]) -> set[str]:
    """The input sites whose AwqStats layer i needs: every AWQ module's own rows, and each shared input's means."""
    sites = {site_of(k) for k, s in specs.items() if is_awq(s)}
    for g in shared_inputs(arch):
        if any(is_awq(specs[k]) for k in g.readers):
            sites.add(g.site)
    return sites


def _stats(cap: AwqCapture, site: str, label: str):  # type: ignore[no-untyped-def]
    st = cap.stats.get(site)
    if st is None or st.count == 0:
        raise InvalidRequest(f"AWQ for {label} got no calibration rows (no token reached it and minTokensPerExpert is 0)")
    return st


def awq_args(spec: Spec) -> tuple:
    m = spec["method"]
    return (spec["bits"], spec["groupSize"], spec["symmetric"], int(m["scaleGrid"]), bool(m["clip"]), int(m["clipGrid"]), float(m["maxShrink"]))


def awq_bytes(out: int, n: int) -> int:
    """Working set of one module's AWQ search: ~6 float64 [out, in] tensors (scaled weight, grids, deltas);
    the output-error products are bounded by quant/awq.py's CHUNK_BYTES on top."""
    return 6 * 8 * out * n


def quantize_awq_layer(arch: ArchSpec, i: int, w: dict[str, torch.Tensor], specs: dict[str, Spec], cap: AwqCapture,
                       meter: MemoryMeter | None = None) -> tuple[dict[str, GroupedCodes], dict[str, torch.Tensor]]:
    """Every AWQ module of layer i: codes of W*diag(s), and s (fp16 [in]) per module."""
    work = max((awq_bytes(*w[k].shape) for k, s in specs.items() if is_awq(s)), default=0)
    if meter is not None:
        meter.charge(work, f"the AWQ search of layer {i}")
    try:
        return _quantize_awq_layer(arch, i, w, specs, cap)
    finally:
        if meter is not None:
            meter.release(work)


def _quantize_awq_layer(arch: ArchSpec, i: int, w: dict[str, torch.Tensor], specs: dict[str, Spec], cap: AwqCapture) -> tuple[dict[str, GroupedCodes], dict[str, torch.Tensor]]:
    codes: dict[str, GroupedCodes] = {}
    scales: dict[str, torch.Tensor] = {}
    name = lambda k: arch.module_name(i, k)  # noqa: E731
    for g in shared_inputs(arch):
        members = [k for k in g.readers if is_awq(specs[k])]
        if not members:
            continue
        shared = _stats(cap, g.site, name(members[0]))
        search = []
        for k in members:
            st = cap.stats[site_of(k)] if site_of(k) in cap.stats else None
            rows = st.samples() if st is not None else torch.empty(0, w[k].shape[1], device=w[k].device)
            search.append(AwqMember(w=w[k], samples=rows, bits=specs[k]["bits"], group_size=specs[k]["groupSize"], symmetric=specs[k]["symmetric"]))
        s, _alpha, _losses = awq_search_shared_scales(search, shared.mean_abs(), int(specs[members[0]]["method"]["scaleGrid"]))
        for k, m in zip(members, search):
            _stats(cap, site_of(k), name(k))
            r = awq_quantize(w[k], shared.mean_abs(), m.samples, *awq_args(specs[k]), channel_scales=s)
            codes[k], scales[k] = r.codes, r.channel_scales
    for k in linear_keys(arch):
        if k in codes or not is_awq(specs[k]):
            continue
        st = _stats(cap, site_of(k), name(k))
        r = awq_quantize(w[k], st.mean_abs(), st.samples(), *awq_args(specs[k]))
        codes[k], scales[k] = r.codes, r.channel_scales
    return codes, scales


def _scale_columns(t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return (t.to(torch.float64) * s).to(t.dtype)


def fold_layer(arch: ArchSpec, i: int, tensors: dict[str, torch.Tensor], specs: dict[str, Spec], scales: dict[str, torch.Tensor]) -> None:
    """Folds layer i's AWQ scales into the stored tensors (in place): norms, bf16 readers, up_proj rows."""
    if not scales:
        return
    for g in shared_inputs(arch):
        members = [k for k in g.readers if k in scales]
        if not members:
            continue
        s = scales[members[0]].to(torch.float64)
        norm = arch.tensor_name(i, g.norm)
        tensors[norm] = (tensors[norm].to(torch.float64) / s.to(tensors[norm].device)).to(tensors[norm].dtype)
        for k in [k for k in g.readers if specs[k]["bits"] == 16] + g.compensated:
            wname = arch.module_name(i, k) + ".weight"
            tensors[wname] = _scale_columns(tensors[wname], s.to(tensors[wname].device))
    for down, up in down_up_pairs(arch):
        if down not in scales:
            continue
        inv = 1.0 / scales[down].to(torch.float64)
        up_name = arch.module_name(i, up)
        if specs[up]["bits"] == 16:
            t = tensors[up_name + ".weight"]
            tensors[up_name + ".weight"] = (t.to(torch.float64) * inv.to(t.device)[:, None]).to(t.dtype)
        else:
            # Stored F32 scales take the factor exactly as awq-fold's scalesF32 (no fp16 rounding).
            t = tensors[up_name + ".weight_scale"]
            tensors[up_name + ".weight_scale"] = (t.to(torch.float64) * inv.to(t.device)[:, None]).to(torch.float32)
