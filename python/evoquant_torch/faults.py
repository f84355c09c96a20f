"""Fault injection for durability tests, as --chaos-transient-rate is for the TypeScript workers.

EVOQUANT_TORCH_FAULT=<kind>@<layer>:<marker> makes the quantize driver fail once, right after it
has written layer <layer>: `sigkill` kills this process (a worker machine dying mid-model), and
`cuda-error` raises the RuntimeError CUDA itself raises for a device fault (mapped to the retryable
CudaError). The marker file is created first and the fault never fires while it exists, so the
retry in a fresh process runs clean. Unset (always, outside tests), it does nothing.
"""
from __future__ import annotations

import os
import signal

ENV = "EVOQUANT_TORCH_FAULT"
KINDS = ("sigkill", "cuda-error")


def after_layer(layer: int) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    head, sep, marker = spec.partition(":")
    kind, at, where = head.partition("@")
    if not sep or not at or kind not in KINDS or not where.isdigit() or not marker:
        raise ValueError(f"{ENV} must be <sigkill|cuda-error>@<layer>:<marker file>, got {spec!r}")
    if int(where) != layer:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # once per marker, even across processes
    except FileExistsError:
        return
    os.close(fd)
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError("CUDA error: an illegal memory access was encountered (injected by EVOQUANT_TORCH_FAULT)")
