"""Validation of a quantize request's plan and calibration: every module spec the executor takes
(the TypeScript plan's TorchModuleSpec), checked field by field, so a bad request is one
InvalidRequest line and a spec the executor does not implement is UnsupportedRecipe, before any
weight is read.
"""
from __future__ import annotations

import math
from typing import Any

from .architectures import ArchSpec, linear_keys
from .awq_layer import check_awq_layer
from .errors import InvalidRequest, UnsupportedRecipe

Spec = dict[str, Any]

BITS = (2, 3, 4, 8, 16)
GROUPS = (32, 64, 128, 256, "channel")


# ----------------------------------------------------------------------------- validation

def _fail(msg: str) -> InvalidRequest:
    return InvalidRequest(f"quantize request: {msg}")


def _pos_int(obj: dict, key: str, where: str, zero_ok: bool = False) -> int:
    v = obj.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < (0 if zero_ok else 1):
        raise _fail(f"{where}.{key} must be a {'non-negative' if zero_ok else 'positive'} integer, got {v!r}")
    return v


def check_spec(name: str, spec: Any) -> Spec:
    """A module spec the executor can run, or InvalidRequest / UnsupportedRecipe naming the module."""
    if not isinstance(spec, dict):
        raise _fail(f"plan.modules[{name}] must be an object")
    for key in ("outliers", "rotation"):
        if spec.get(key) is not None:
            raise UnsupportedRecipe(f"{name}: {key} are not implemented by the torch executor")
    extra = set(spec) - {"bits", "format", "groupSize", "symmetric", "method", "outliers", "rotation"}
    if extra:
        raise _fail(f"plan.modules[{name}] has unknown field {sorted(extra)[0]!r}")
    bits, fmt, gs, sym, method = spec.get("bits"), spec.get("format"), spec.get("groupSize"), spec.get("symmetric"), spec.get("method")
    if bits not in BITS or isinstance(bits, bool):
        raise _fail(f"plan.modules[{name}].bits must be one of {list(BITS)}, got {bits!r}")
    if fmt not in ("int", "fp8"):
        raise _fail(f"plan.modules[{name}].format must be int or fp8, got {fmt!r}")
    if fmt == "fp8" and bits != 8:
        raise _fail(f"plan.modules[{name}]: fp8 needs bits 8, got {bits}")
    if gs not in GROUPS or isinstance(gs, bool):
        raise _fail(f"plan.modules[{name}].groupSize must be one of {list(GROUPS)}, got {gs!r}")
    if not isinstance(sym, bool):
        raise _fail(f"plan.modules[{name}].symmetric must be a boolean")
    if not isinstance(method, dict) or not isinstance(method.get("kind"), str):
        raise _fail(f"plan.modules[{name}].method must be an object with a kind")
    kind = method["kind"]
    if kind == "gptq":
        damp, bs, ao = method.get("damp"), method.get("blockSize"), method.get("actOrder")
        if not isinstance(damp, (int, float)) or isinstance(damp, bool) or not math.isfinite(damp) or damp < 0:
            raise _fail(f"plan.modules[{name}].method.damp must be a finite non-negative number")
        if not isinstance(bs, int) or isinstance(bs, bool) or bs < 1:
            raise _fail(f"plan.modules[{name}].method.blockSize must be a positive integer")
        if not isinstance(ao, bool):
            raise _fail(f"plan.modules[{name}].method.actOrder must be a boolean")
    elif kind == "awq":
        _check_method(name, method, {"scaleGrid": (2, 100), "clipGrid": (2, 100)}, {"clip"}, {"maxShrink": (0.0, 1.0)})
        if method.get("scales", "per-module") not in ("per-module", "shared-input"):
            raise _fail(f"plan.modules[{name}].method.scales must be per-module or shared-input")
    elif kind == "autoround":
        _check_method(name, method, {"iterations": (1, 1000)}, {"minMax"}, {"learningRate": (0.0, 0.5)})
    elif kind != "rtn":
        raise _fail(f"plan.modules[{name}].method.kind {kind!r} is unknown")
    return spec


def _check_method(name: str, method: dict, ints: dict[str, tuple[int, int]], bools: set[str], reals: dict[str, tuple[float, float]]) -> None:
    """The method's fields exactly (schema/torch-executor.ts TorchMethod): ints in [lo, hi], booleans, reals in (lo, hi]."""
    extra = set(method) - {"kind", *(("scales",) if method.get("kind") == "awq" else ())} - set(ints) - bools - set(reals)
    if extra:
        raise _fail(f"plan.modules[{name}].method has unknown field {sorted(extra)[0]!r}")
    for key, (lo, hi) in ints.items():
        v = method.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise _fail(f"plan.modules[{name}].method.{key} must be an integer in [{lo}, {hi}], got {v!r}")
    for key in bools:
        if not isinstance(method.get(key), bool):
            raise _fail(f"plan.modules[{name}].method.{key} must be a boolean")
    for key, (lo, hi) in reals.items():
        v = method.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not lo < v <= hi:
            raise _fail(f"plan.modules[{name}].method.{key} must be a number in ({lo}, {hi}], got {v!r}")


def is_autoround(spec: Spec) -> bool:
    return spec["bits"] != 16 and spec["format"] == "int" and spec["method"]["kind"] == "autoround"


def needs_hessian(spec: Spec) -> bool:
    """GPTQ and AutoRound learn from Σ x·xᵀ of the module's input."""
    return is_gptq(spec) or is_autoround(spec)


def is_gptq(spec: Spec) -> bool:
    return spec["bits"] != 16 and spec["format"] == "int" and spec["method"]["kind"] == "gptq"


def check_plan(arch: ArchSpec, plan: Any) -> tuple[list[dict[str, Spec]], Spec | None]:
    """Per-layer {canonical key: spec} and the lm_head spec; every linear module must be planned."""
    if not isinstance(plan, dict) or not isinstance(plan.get("modules"), dict):
        raise _fail("plan.modules must be an object")
    for key in ("recipeName", "recipeHash"):
        if not isinstance(plan.get(key), str) or not plan[key]:
            raise _fail(f"plan.{key} must be a non-empty string")
    modules: dict[str, Any] = plan["modules"]
    described = {m["name"]: m for m in arch.modules()}
    unknown = sorted(set(modules) - set(described))
    if unknown:
        raise _fail(f"plan names module {unknown[0]}, which {arch.architecture} does not have")
    specs = {name: check_spec(name, s) for name, s in modules.items()}
    for name, m in described.items():
        spec = specs.get(name)
        if m["role"] == "embeddings":
            if spec is not None and spec["bits"] != 16:
                raise UnsupportedRecipe(f"{name}: quantized embeddings are not served (rule vllm.kernels.embeddings)")
            continue
        if spec is None:
            raise _fail(f"plan does not list linear module {name}")
        if m["role"] == "router" and spec["bits"] != 16:
            raise UnsupportedRecipe(f"{name}: the router is served in bf16 (rule vllm.kernels.router)")
        if spec["bits"] == 16:
            continue
        if spec["format"] == "fp8" and spec["groupSize"] != "channel":
            raise UnsupportedRecipe(f"{name}: fp8 weights export per channel only (rule export.compressed-tensors.fp8-group)")
        if spec["format"] == "int" and spec["groupSize"] != "channel" and m["inFeatures"] % spec["groupSize"]:
            raise UnsupportedRecipe(f"{name}: in_features {m['inFeatures']} is not a multiple of group size {spec['groupSize']} (rule export.compressed-tensors.group-tiling)")
    per_layer = [{key: specs[arch.module_name(i, key)] for key in linear_keys(arch)} for i in range(arch.layers)]
    for i, layer_specs in enumerate(per_layer):
        check_awq_layer(arch, i, layer_specs)
    head = specs.get("lm_head") if not arch.tie_embeddings else None
    return per_layer, head


def check_calibration(cal: Any) -> dict:
    if not isinstance(cal, dict):
        raise _fail("calibration must be an object")
    files = cal.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) and f.startswith("/") for f in files):
        raise _fail("calibration.files must be a non-empty list of absolute paths")
    for key in ("tokens", "seq", "batch"):
        _pos_int(cal, key, "calibration")
    _pos_int(cal, "minTokensPerExpert", "calibration", zero_ok=True)
    if cal.get("mode") not in ("sequential", "original"):
        raise _fail(f"calibration.mode must be sequential or original, got {cal.get('mode')!r}")
    return cal
