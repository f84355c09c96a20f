"""The quantize request: a Hugging Face checkpoint -> a compressed-tensors checkpoint, layer by layer.

Per decoder layer: read its weights (never the whole model), run the calibration windows through it
capturing the inputs the layer's GPTQ modules need (expert-balanced, calibrate.py), quantize every
linear module as the plan says, write the layer's compressed-tensors tensors to OUTPUT.partial/
(writer.py), then compute the next layer's inputs: through the layer as stored (dequantized) in
`sequential` mode (GPTQModel: each layer sees the outputs of the already-quantized layers), through the
original layer in `original` mode (evoquant's reference executor). Within a layer every module is
calibrated on the layer's unquantized forward (no intra-layer true-sequential pass).

Methods: RTN, GPTQ (experts of one projection batched), AutoRound (quant/autoround.py, on the same
Σ x·xᵀ as GPTQ) and AWQ (quant/awq.py on awq_capture.py's mean |x| and sampled rows): a shared input's
readers search one s jointly and every s is folded out of the stored form (awq_layer.py, as
awq-fold.ts), so the next layer's inputs in `sequential` mode run through the folded layer as served.

A retry with the same recipeHash reuses every finished layer file and recomputes the calibration inputs
through it (from its stored weights, the same code path as a fresh run), so a killed worker loses at
most the layer in flight. Finished outputs are reused when OUTPUT already holds this recipeHash (for
the same calibration and source checkpoint).

Memory (the CPU meter's charges; on CUDA the allocator measures the same objects): the calibration hidden
states twice ([windows, seq, hidden] float32, current and next), one layer's float32 weights, the float64
Σ x·xᵀ of every input site a GPTQ module of the layer reads (hidden² or intermediate² · 8 bytes each; per
expert for experts), the AwqStats of every input site an AWQ module of the layer reads (512 sampled rows
each), and, when experts are balanced, the layer's MoE inputs and router probabilities.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from . import errors
from .architectures import ArchSpec, linear_keys
from .calibrate import balance_experts, site_of
from .checkpoint import Checkpoint
from .errors import GpuOutOfMemory, InputFileError, InvalidRequest, MemoryMeter, NonFiniteFailure, UnsupportedRecipe, check_finite
from .layers import embed_tokens, expert_hidden, layer_forward, rms_norm
from .pack import module_tensors, quantization_config, scheme_format, weight_args
from .quant.dequant import dequantize_module, module_tensor_suffixes
from .quant.fp8 import fp8_quantize
from . import faults
from .quant.gptq import HessianNotPositiveDefinite, gptq_quantize_batch
from .quant.grid import GroupedCodes
from .quant.hessian import HessianAccumulator
from .quant.rtn import rtn_quantize
from .quant.autoround import autoround_quantize
from .awq_capture import AwqCapture, AwqStats, balance_awq_experts
from .awq_layer import awq_args, awq_sites, fold_layer, is_awq, quantize_awq_layer
from .quant.awq import awq_quantize
from .text import even_windows, load_text, tokenize
from .writer import PartialDir, assemble, existing_meta, remove_stale
from .quantize_request import Spec, _fail, check_calibration, check_plan, is_autoround, is_gptq, needs_hessian

Emit = Callable[[dict], None]

# ----------------------------------------------------------------------------- one module

def scheme_for(spec: Spec) -> dict:
    return {"format": scheme_format(spec), "weights": weight_args(spec)}


def _gptq_args(spec: Spec) -> tuple:
    m = spec["method"]
    return (spec["bits"], spec["groupSize"], spec["symmetric"], float(m["damp"]), int(m["blockSize"]), bool(m["actOrder"]))


def _calibrated(hessian: HessianAccumulator | None, label: str) -> HessianAccumulator:
    if hessian is None or hessian.count == 0:
        raise InvalidRequest(f"GPTQ for {label} got no calibration rows (no token reached it and minTokensPerExpert is 0)")
    check_finite(hessian.sum, f"the calibration Hessian of {label}")
    return hessian


def _checked(g: GroupedCodes, label: str) -> GroupedCodes:
    if not bool(torch.isfinite(g.scales).all()):
        raise NonFiniteFailure(f"non-finite scales of {label}")
    return g


def quantize_module(w: torch.Tensor, spec: Spec, hessian: HessianAccumulator | None, label: str) -> GroupedCodes:
    """One module under its spec (fp8 ignores the method, as quantize-linear.ts does)."""
    check_finite(w, f"the weight of {label}")
    if spec["format"] == "fp8":
        return _checked(fp8_quantize(w, spec["groupSize"]), label)
    if spec["method"]["kind"] == "rtn":
        return _checked(rtn_quantize(w, spec["bits"], spec["groupSize"], spec["symmetric"]), label)
    if spec["method"]["kind"] == "autoround":
        h = _calibrated(hessian, label)
        m = spec["method"]
        lr = float(m.get("learningRate", 1.0 / m["iterations"]))
        return _checked(autoround_quantize(w, h.sum, h.count, spec["bits"], spec["groupSize"], spec["symmetric"], int(m["iterations"]), lr, bool(m["minMax"])).codes, label)
    if spec["method"]["kind"] == "awq":
        raise ValueError(f"{label}: AWQ modules are quantized per layer (awq_layer.quantize_awq_layer), not one by one")
    return quantize_gptq_batch([w], [_calibrated(hessian, label)], spec, [label])[0]


def quantize_gptq_batch(ws: list[torch.Tensor], hessians: list[HessianAccumulator], spec: Spec, labels: list[str]) -> list[GroupedCodes]:
    """GPTQ of modules sharing shape and spec (a layer's experts) in one batch."""
    for w, label in zip(ws, labels):
        check_finite(w, f"the weight of {label}")
    try:
        results = gptq_quantize_batch(torch.stack(ws), torch.stack([h.sum for h in hessians]), [h.count for h in hessians], *_gptq_args(spec), labels=list(labels))
    except HessianNotPositiveDefinite as e:
        # The contract's error types have no HessianNotPositiveDefinite: degenerate numerics, not retryable.
        raise NonFiniteFailure(str(e)) from None
    return [_checked(g, label) for g, label in zip(results, labels)]


# Working memory of one GPTQ batch: ~8 float64 [in, in] matrices per module (H, its permutation,
# the Cholesky factors and inverse, U and its float32 copy) plus the float64 weights.
GPTQ_BATCH_BYTES_CPU = 2 * 2**30


def gptq_budget(meter: MemoryMeter, device: torch.device) -> int:
    """Bytes one GPTQ batch may use: a quarter of the free device memory on CUDA, 2 GiB on the CPU,
    and never more than half of what the memory cap leaves."""
    budget = int(torch.cuda.mem_get_info(device)[0] // 4) if device.type == "cuda" else GPTQ_BATCH_BYTES_CPU
    cap = getattr(meter, "cap_bytes", None)
    if cap is not None and device.type != "cuda":
        budget = min(budget, max(0, (cap - getattr(meter, "held", 0)) // 2))
    return budget


def autoround_bytes(out: int, n: int) -> int:
    return 8 * n * n + 8 * 8 * out * n


def gptq_batch_bytes(out: int, n: int) -> int:
    return 8 * n * n * 8 + 4 * out * n * 8


def quantize_layer(arch: ArchSpec, i: int, w: dict[str, torch.Tensor], specs: dict[str, Spec],
                   hessians: dict[str, HessianAccumulator], meter: MemoryMeter) -> dict[str, GroupedCodes]:
    """Every quantized linear module of layer i; experts of one projection and spec run as GPTQ batches."""
    results: dict[str, GroupedCodes] = {}
    batches: dict[str, list[str]] = {}
    for key in linear_keys(arch):
        spec = specs[key]
        if spec["bits"] == 16 or is_awq(spec):
            continue
        if is_gptq(spec) and key.startswith("experts."):
            batches.setdefault(key.split(".")[2] + json.dumps(spec, sort_keys=True), []).append(key)
            continue
        # AutoRound's working set: the fixed-point H and ~8 float64 [out, in] tensors per step.
        work = autoround_bytes(*w[key].shape) if is_autoround(spec) else 0
        meter.charge(work, f"AutoRound of {arch.module_name(i, key)}")
        try:
            results[key] = quantize_module(w[key], spec, hessians.get(site_of(key)), arch.module_name(i, key))
        finally:
            meter.release(work)
    for keys in batches.values():
        spec = specs[keys[0]]
        out, n = w[keys[0]].shape
        per = gptq_batch_bytes(out, n)
        chunk = max(1, min(len(keys), gptq_budget(meter, w[keys[0]].device) // per))
        for c in range(0, len(keys), chunk):
            part = keys[c:c + chunk]
            labels = [arch.module_name(i, k) for k in part]
            accs = [_calibrated(hessians.get(site_of(k)), label) for k, label in zip(part, labels)]
            meter.charge(per * len(part), f"GPTQ of {len(part)} modules like {labels[0]}")
            try:
                for k, g in zip(part, quantize_gptq_batch([w[k] for k in part], accs, spec, labels)):
                    results[k] = g
            finally:
                meter.release(per * len(part))
    return results


def stored_module(ckpt: Checkpoint, name: str, w: torch.Tensor) -> torch.Tensor:
    """A kept (bits 16) module as stored: the source tensor itself where the source stores it plainly,
    else (fused experts, a quantized source) the float weight in bf16."""
    if ckpt.scheme(name) is None and not (getattr(ckpt, "fused", False) and ".experts." in name):
        try:
            return ckpt.raw(name + ".weight")
        except errors.InvalidCheckpoint:
            pass
    return w.to(torch.bfloat16)


def weights_from_stored(arch: ArchSpec, i: int, stored: dict[str, torch.Tensor], specs: dict[str, Spec], device: torch.device) -> dict[str, torch.Tensor]:
    """The float32 layer weights a serving stack reads back from the stored tensors of layer i."""
    linear = set(linear_keys(arch))
    w: dict[str, torch.Tensor] = {}
    for key in arch.layer_shapes():
        if key in linear:
            name = arch.module_name(i, key)
            spec = specs[key]
            if spec["bits"] == 16:
                w[key] = stored[name + ".weight"].to(device=device, dtype=torch.float32)
            else:
                scheme = scheme_for(spec)
                w[key] = dequantize_module({s: stored[f"{name}.{s}"].to(device) for s in module_tensor_suffixes(scheme)}, scheme)
        else:
            w[key] = stored[arch.tensor_name(i, key)].to(device=device, dtype=torch.float32)
    return w


def _nbytes(ts: dict[str, torch.Tensor] | list[torch.Tensor]) -> int:
    vals = ts.values() if isinstance(ts, dict) else ts
    return sum(t.numel() * t.element_size() for t in vals)


# ----------------------------------------------------------------------------- the driver

def run(request: dict, emit: Emit) -> dict:
    """The quantize request. A pending SIGTERM stops it at the next progress message (protocol.Channel.emit
    raises Terminated there), i.e. at a layer boundary; every file is written atomically."""
    try:
        with torch.no_grad():
            return _run(request, emit)
    except torch.OutOfMemoryError as e:
        raise GpuOutOfMemory(f"out of device memory: {str(e).splitlines()[0] if str(e) else 'torch.OutOfMemoryError'}") from None


def _run(request: dict, emit: Emit) -> dict:
    if not isinstance(request, dict) or request.get("kind") != "quantize":
        raise _fail("kind must be quantize")
    for key in ("checkpoint", "output"):
        if not isinstance(request.get(key), str) or not request[key].startswith("/"):
            raise _fail(f"{key} must be an absolute path")
    device_name = request.get("device")
    if device_name not in ("cpu", "cuda"):
        raise _fail(f"device must be cpu or cuda, got {device_name!r}")
    cap = request.get("memoryCapBytes")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0):
        raise _fail("memoryCapBytes must be a positive integer or null")
    plan = request.get("plan")
    cal = check_calibration(request.get("calibration"))
    output = Path(request["output"])
    recipe_hash = plan.get("recipeHash") if isinstance(plan, dict) else None

    # The recipe, the calibration and the source name what gets computed; reuse needs all three equal.
    identity = hashlib.sha256(json.dumps({"plan": plan, "calibration": cal, "checkpoint": request["checkpoint"]}, sort_keys=True).encode()).hexdigest()[:32]
    meta = existing_meta(output)
    if meta is not None and meta.get("recipeHash") == recipe_hash and meta.get("identity") == identity and isinstance(meta.get("result"), dict):
        emit({"type": "progress", "stage": "write", "done": 1, "total": 1})
        return {**meta["result"], "output": str(output), "reused": True}
    if output.exists() and (not output.is_dir() or (meta is None and any(output.iterdir()))):
        raise _fail(f"output {output} exists and is not an evoquant quantization; refusing to overwrite it")

    if device_name == "cuda" and not torch.cuda.is_available():
        raise _fail("device cuda requested but torch sees no CUDA device")
    device = torch.device("cuda:0" if device_name == "cuda" else "cpu")

    emit({"type": "progress", "stage": "load", "done": 0, "total": 1})
    ckpt = Checkpoint.open(request["checkpoint"])
    if ckpt.quantized:
        # As the reference pipeline refuses it: quantizing stored codes again compounds their error.
        raise errors.InvalidCheckpoint(f"{request['checkpoint']} is already quantized (compressed-tensors); quantize the unquantized model")
    arch = ckpt.arch
    layer_specs, head_spec = check_plan(arch, plan)
    meter = MemoryMeter(cap, device)
    emit({"type": "progress", "stage": "load", "done": 1, "total": 1})

    remove_stale(output)
    partial = PartialDir(output, recipe_hash, identity)
    sequential = cal["mode"] == "sequential"
    hessians_needed = any(needs_hessian(s) for specs in layer_specs for s in specs.values()) or (head_spec is not None and needs_hessian(head_spec))
    any_awq = any(is_awq(s) for specs in layer_specs for s in specs.values()) or (head_spec is not None and is_awq(head_spec))
    forward = hessians_needed or any_awq or arch.moe
    n_layers = arch.layers
    E = arch.experts

    hidden: torch.Tensor | None = None
    if forward:
        emit({"type": "progress", "stage": "calibrate", "done": 0, "total": 1})
        tokens = tokenize(ckpt, load_text(cal["files"]))
        ids = tokens.ids
        seq = cal["seq"]
        starts = even_windows(int(ids.numel()), seq, cal["tokens"])
        if not starts:
            raise InputFileError(f"the calibration text has {int(ids.numel())} tokens, too few for one window of {seq + 1}")
        inputs = torch.stack([ids[s:s + seq] for s in starts]).to(device)
        embed = ckpt.embed(device)
        hidden = embed_tokens(embed, inputs)
        del embed
        meter.charge(2 * _nbytes([hidden]), "the calibration hidden states")
        emit({"type": "progress", "stage": "calibrate", "done": 1, "total": 1})
    batch = cal["batch"]

    routed: list[list[int]] = []
    added: list[list[int]] = []
    seconds: list[float] = []
    resumed = 0
    quantized_names: list[tuple[str, Spec]] = []
    ignored: list[str] = []
    for i in range(n_layers):
        for key in linear_keys(arch):
            name, spec = arch.module_name(i, key), layer_specs[i][key]
            (ignored.append(name) if spec["bits"] == 16 else quantized_names.append((name, spec)))

    def run_layer(w: dict[str, torch.Tensor], h: torch.Tensor, capture: Any = None, counts: torch.Tensor | None = None) -> torch.Tensor:
        out = []
        for b in range(0, h.shape[0], batch):
            if capture is not None:
                capture.row_base = b * h.shape[1]  # rows are named by their token's index in the windows (AwqStats)
            out.append(layer_forward(arch, w, h[b:b + batch], capture, counts))
        y = torch.cat(out)
        check_finite(y, "the calibration activations")
        return y

    emit({"type": "progress", "stage": "quantize", "done": 0, "total": n_layers})
    for i in range(n_layers):
        specs = layer_specs[i]
        manifest = partial.finished_layer(i)
        if manifest is not None:
            resumed += 1
            if forward:
                assert hidden is not None
                w = weights_from_stored(arch, i, partial.read_layer(i), specs, device) if sequential else ckpt.layer(i, device)
                meter.charge(_nbytes(w), f"layer {i}")
                hidden = run_layer(w, hidden)
                meter.release(_nbytes(w))
                del w
            routed.append(list(manifest.get("routed", [])))
            added.append(list(manifest.get("added", [])))
            seconds.append(float(manifest.get("seconds", 0.0)))
            emit({"type": "progress", "stage": "quantize", "done": i + 1, "total": n_layers})
            continue

        t0 = time.monotonic()
        w = ckpt.layer(i, device)
        w_bytes = _nbytes(w)
        meter.charge(w_bytes, f"the weights of layer {i}")
        capture: AwqCapture | None = None
        awq_scales: dict[str, torch.Tensor] = {}
        routed_i: list[int] = []
        added_i: list[int] = []
        original_out: torch.Tensor | None = None
        if forward:
            assert hidden is not None
            sites = {site_of(k) for k, s in specs.items() if needs_hessian(s)}
            stat_sites = awq_sites(arch, specs)
            widths = {}
            shapes = arch.layer_shapes()
            for k in specs:
                widths[site_of(k)] = shapes[k][1]
            widths["moe_input"] = widths["attention_input"] = arch.hidden
            expert_sites = any(s.startswith("expert_") for s in sites | stat_sites)
            capture = AwqCapture(sites, stat_sites, widths, device, keep_moe=arch.moe and expert_sites and cal["minTokensPerExpert"] > 0, charge=meter.charge)
            counts = torch.zeros(E, dtype=torch.int64, device=device) if arch.moe else None
            original_out = run_layer(w, hidden, capture, counts)
            if counts is not None:
                routed_i = [int(c) for c in counts.tolist()]
                added_i = balance_experts(capture, w, E, routed_i, cal["minTokensPerExpert"], expert_hidden)
                balance_awq_experts(capture, w, E, routed_i, cal["minTokensPerExpert"], expert_hidden)
            capture.drop_moe(meter.release)
        tensors: dict[str, torch.Tensor] = {}
        for key in arch.layer_shapes():
            if key not in specs:
                tensors[arch.tensor_name(i, key)] = ckpt.raw(arch.tensor_name(i, key))
        codes = quantize_layer(arch, i, w, specs, capture.hessians if capture is not None else {}, meter)
        if capture is not None and capture.stats:
            awq_codes, awq_scales = quantize_awq_layer(arch, i, w, specs, capture, meter)
            codes.update(awq_codes)
        for key in linear_keys(arch):
            spec, name = specs[key], arch.module_name(i, key)
            if spec["bits"] == 16:
                tensors[name + ".weight"] = stored_module(ckpt, name, w[key])
            else:
                tensors.update(module_tensors(name, spec, codes[key]))
        del codes
        # s out of the stored form: into the norms, the bf16 router's columns, up_proj's rows (awq-fold.ts).
        fold_layer(arch, i, tensors, specs, awq_scales)
        if capture is not None:
            for acc in capture.hessians.values():
                meter.release(acc.nbytes)
            meter.release(capture.stats_bytes)
            capture = None
        if forward:
            assert hidden is not None
            if sequential:
                wq = weights_from_stored(arch, i, tensors, specs, device)
                hidden = run_layer(wq, hidden)
                del wq
            else:
                assert original_out is not None
                hidden = original_out
        meter.release(w_bytes)
        del w
        seconds_i = time.monotonic() - t0
        partial.write_layer(i, {k: v.cpu() for k, v in tensors.items()}, {"seconds": seconds_i, "routed": routed_i, "added": added_i})
        faults.after_layer(i)
        routed.append(routed_i)
        added.append(added_i)
        seconds.append(seconds_i)
        emit({"type": "progress", "stage": "quantize", "done": i + 1, "total": n_layers})

    # Embeddings, final norm and the head.
    rest: dict[str, torch.Tensor] = {"model.embed_tokens.weight": ckpt.raw("model.embed_tokens.weight"), "model.norm.weight": ckpt.raw("model.norm.weight")}
    if not arch.tie_embeddings:
        head_w = ckpt.lm_head(device)
        if head_spec is None or head_spec["bits"] == 16:
            rest["lm_head.weight"] = stored_module(ckpt, "lm_head", head_w)
            ignored.append("lm_head")
        elif is_awq(head_spec):
            # The head reads the final norm's output alone: its s folds into model.norm (awq-fold.ts foldShared(FINAL_NORM, [LM_HEAD])).
            assert hidden is not None
            x = rms_norm(hidden, ckpt.final_norm(device), arch.rms_eps).reshape(-1, arch.hidden)
            stats = AwqStats(arch.hidden, device)
            meter.charge(stats.nbytes, "the AWQ statistics of lm_head")
            stats.add(x, torch.arange(x.shape[0], device=device))
            del x
            r = awq_quantize(head_w, stats.mean_abs(), stats.samples(), *awq_args(head_spec))
            g = _checked(r.codes, "lm_head")
            norm = rest["model.norm.weight"]
            rest["model.norm.weight"] = (norm.to(torch.float64) / r.channel_scales.to(torch.float64).cpu()).to(norm.dtype)
            rest.update({k: v.cpu() for k, v in module_tensors("lm_head", head_spec, g).items()})
            quantized_names.append(("lm_head", head_spec))
            meter.release(stats.nbytes)
        else:
            acc = None
            if needs_hessian(head_spec):
                assert hidden is not None
                acc = HessianAccumulator(arch.hidden, device)
                meter.charge(acc.nbytes, "the calibration Hessian of lm_head")
                acc.add(rms_norm(hidden, ckpt.final_norm(device), arch.rms_eps).reshape(-1, arch.hidden))
            g = quantize_module(head_w, head_spec, acc, "lm_head")
            rest.update({k: v.cpu() for k, v in module_tensors("lm_head", head_spec, g).items()})
            quantized_names.append(("lm_head", head_spec))
        del head_w
    partial.write_rest(rest)

    emit({"type": "progress", "stage": "write", "done": 0, "total": 1})
    config = {k: v for k, v in ckpt.config.items() if k != "quantization_config"}
    qc = quantization_config(quantized_names, ignored, E)
    if qc is not None:
        config["quantization_config"] = qc
    moe_routed = routed if arch.moe else []
    flat_routed = [c for layer in routed for c in layer]
    result = {
        "output": str(output),
        "reused": False,
        "resumedLayers": resumed,
        "layers": n_layers,
        "storedBytes": 0,
        "peakMemoryBytes": int(meter.peak),
        "deviceTotalBytes": meter.total,
        "secondsPerLayer": seconds,
        "routedCounts": moe_routed,
        "coverage": {"minRouted": min(flat_routed) if flat_routed else 0, "added": sum(c for layer in added for c in layer)},
    }

    def meta_of(stored_bytes: int) -> dict:
        result["storedBytes"] = stored_bytes
        return {"recipeHash": recipe_hash, "identity": identity, "recipeName": plan["recipeName"], "plan": plan, "calibration": cal, "routedCounts": moe_routed, "result": result}

    assemble(output, partial, n_layers, config, ckpt.path, meta_of)
    emit({"type": "progress", "stage": "write", "done": 1, "total": 1})
    return result
