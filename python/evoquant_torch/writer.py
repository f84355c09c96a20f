"""The quantize request's files: per-layer checkpoints in OUTPUT.partial/ (so a killed worker loses at
most the layer in flight) and the atomic assembly of the final compressed-tensors checkpoint.

OUTPUT.partial/ holds partial.json {recipeHash}, layer-00007.safetensors (the layer's stored tensors
under their HF names) + layer-00007.json {recipeHash, seconds, routed, added} — the json is written
last, so its presence means the layer is complete — and rest.safetensors (embeddings, final norm,
head). Every file is written to a temporary name, flushed and renamed.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

SHARD_THRESHOLD = 4 * 2**30  # above this the checkpoint is sharded (one shard per layer file)
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json",
    "merges.txt", "added_tokens.json", "generation_config.json", "chat_template.jinja", "chat_template.json",
)
META = "evoquant-quantization.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_json(path: Path, obj: Any) -> None:
    _atomic_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def atomic_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata={"format": "pt"})
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(str(path), framework="pt", device="cpu") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


class PartialDir:
    """OUTPUT.partial/ for one run identity (the recipeHash plus a digest of the calibration and the source
    checkpoint, so a retry reuses layers only when it would recompute the very same ones); a partial dir of
    another identity is ours to remove."""

    def __init__(self, output: Path, recipe_hash: str, identity: str) -> None:
        self.path = output.with_name(output.name + ".partial")
        self.recipe_hash = recipe_hash
        marker = self.path / "partial.json"
        if self.path.exists():
            try:
                m = json.loads(marker.read_text())
                same = m["recipeHash"] == recipe_hash and m["identity"] == identity
            except (OSError, ValueError, KeyError, TypeError):
                same = False
            if not same:
                shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        # Temporary files of a process killed mid-write: never renamed, never read; ours to drop.
        for tmp in self.path.glob(".*.tmp-*"):
            tmp.unlink(missing_ok=True)
        if not marker.exists():
            atomic_json(marker, {"recipeHash": recipe_hash, "identity": identity})

    def _layer(self, i: int, ext: str) -> Path:
        return self.path / f"layer-{i:05d}.{ext}"

    def finished_layer(self, i: int) -> dict | None:
        """The manifest of a complete layer of this recipe, or None."""
        try:
            manifest = json.loads(self._layer(i, "json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("recipeHash") != self.recipe_hash or not self._layer(i, "safetensors").is_file():
            return None
        return manifest

    def write_layer(self, i: int, tensors: dict[str, torch.Tensor], manifest: dict) -> None:
        atomic_safetensors(self._layer(i, "safetensors"), tensors)
        atomic_json(self._layer(i, "json"), {"recipeHash": self.recipe_hash, **manifest})

    def read_layer(self, i: int) -> dict[str, torch.Tensor]:
        return read_safetensors(self._layer(i, "safetensors"))

    def write_rest(self, tensors: dict[str, torch.Tensor]) -> None:
        atomic_safetensors(self.path / "rest.safetensors", tensors)

    def tensor_files(self, layers: int) -> list[Path]:
        return [self._layer(i, "safetensors") for i in range(layers)] + [self.path / "rest.safetensors"]

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def remove_stale(output: Path) -> None:
    """Assembly or swap directories a killed run of ours left next to OUTPUT (one run per output at a time)."""
    for pattern in (f"{output.name}.assembling-*", f"{output.name}.replaced-*"):
        for stale in output.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


def existing_meta(output: Path) -> dict | None:
    try:
        meta = json.loads((output / META).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def assemble(output: Path, partial: PartialDir, layers: int, config: dict, source: Path, meta_of: Callable[[int], dict]) -> int:
    """Builds OUTPUT.assembling-<pid>/ and renames it to OUTPUT (replacing an older output of ours);
    returns the stored bytes of its safetensors files (meta_of gets them to write evoquant-quantization.json)."""
    work = output.with_name(f"{output.name}.assembling-{os.getpid()}")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    files = partial.tensor_files(layers)
    total = sum(f.stat().st_size for f in files)
    if total <= SHARD_THRESHOLD:
        merged: dict[str, torch.Tensor] = {}
        for f in files:
            merged.update(read_safetensors(f))
        save_file(merged, str(work / "model.safetensors"), metadata={"format": "pt"})
        del merged
    else:
        # Each layer file is already a valid shard: link (or copy) it instead of rewriting gigabytes.
        weight_map: dict[str, str] = {}
        n = len(files)
        size = 0
        for k, f in enumerate(files):
            shard = f"model-{k + 1:05d}-of-{n:05d}.safetensors"
            try:
                os.link(f, work / shard)
            except OSError:
                shutil.copyfile(f, work / shard)
            with safe_open(str(f), framework="pt") as h:
                for name in h.keys():
                    weight_map[name] = shard
            size += f.stat().st_size
        (work / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": size}, "weight_map": dict(sorted(weight_map.items()))}, indent=2) + "\n")
    (work / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, work / name)
    stored = sum(p.stat().st_size for p in work.iterdir() if p.name.endswith(".safetensors"))
    (work / META).write_text(json.dumps(meta_of(stored), indent=2) + "\n")
    for p in work.iterdir():
        with open(p, "rb") as fh:
            os.fsync(fh.fileno())
    _fsync_dir(work)
    if output.exists():
        # Only an output of ours gets here (quantize.py checked): move it aside, then swap.
        old = output.with_name(f"{output.name}.replaced-{os.getpid()}")
        os.replace(output, old)
        os.replace(work, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(work, output)
    _fsync_dir(output.parent)
    partial.remove()
    return stored
