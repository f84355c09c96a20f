"""`python -m evoquant_torch --message-fd 3`: one request on stdin, JSON-line messages on the fd.

Exit 0 after a result, 1 after an error message, 143 on SIGTERM (nothing partial written),
70 for anything unexpected (traceback on stderr; the TS side retries on a fresh process).
"""
from __future__ import annotations

import argparse
import math
import sys
import traceback
from typing import Any

from .errors import CudaError, ExecutorError, GpuOutOfMemory, NonFiniteFailure, Terminated
from .protocol import Channel, install_sigterm, parse_request

EXIT_RESULT, EXIT_ERROR, EXIT_CRASH, EXIT_TERMINATED = 0, 1, 70, 143


def run_request(req: dict[str, Any], channel: Channel) -> dict[str, Any]:
    kind = req["kind"]
    if kind == "describe":
        from .describe import describe

        return describe(req)
    if kind == "evaluate":
        from .evaluate import evaluate

        return evaluate(req, channel.emit)
    from . import quantize  # pyquant's driver: run(request, emit) -> result

    return quantize.run(req, channel.emit)


def classify(e: BaseException) -> ExecutorError | None:
    """The typed failure of an exception, or None for a crash."""
    if isinstance(e, ExecutorError):
        return e
    import torch

    if isinstance(e, torch.OutOfMemoryError):
        first = str(e).strip().splitlines()[0] if str(e).strip() else "CUDA out of memory"
        return GpuOutOfMemory(first)
    accel = getattr(torch, "AcceleratorError", None)  # torch >= 2.8 raises CUDA runtime failures as this
    text = str(e).strip()
    if (accel is not None and isinstance(e, accel)) or (isinstance(e, RuntimeError) and text.startswith(_CUDA_PREFIXES)):
        return CudaError(text.splitlines()[0] if text else type(e).__name__)
    return None


# Messages of CUDA/driver/library failures (c10/cuda/CUDAException.h, ATen's cuBLAS/cuDNN/NCCL checks);
# a device mismatch or shape error naming "cuda:0" is a bug, not a retryable accelerator failure.
_CUDA_PREFIXES = ("CUDA error", "CUDA driver error", "CUDA call failed", "CUBLAS_STATUS", "cuBLAS error", "cuDNN error",
                  "CUDNN_STATUS", "NCCL error", "cuda runtime error", "CUDA kernel errors")


def _finite(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, dict):
        return all(_finite(x) for x in v.values())
    if isinstance(v, list):
        return all(_finite(x) for x in v)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evoquant_torch")
    parser.add_argument("--message-fd", type=int, required=True)
    args = parser.parse_args(argv)
    install_sigterm()
    try:
        channel = Channel(args.message_fd)
    except OSError as e:  # no message fd: nothing can be reported, so it is a crash
        print(f"evoquant_torch: cannot open message fd {args.message_fd}: {e}", file=sys.stderr)
        return EXIT_CRASH
    try:
        req = parse_request(sys.stdin.buffer.read())
        result = run_request(req, channel)
        if not _finite(result):
            raise NonFiniteFailure(f"the {req['kind']} result holds NaN or Inf")
        channel.send({"type": "result", "result": result})
        return EXIT_RESULT
    except Terminated:
        print("evoquant_torch: SIGTERM, stopped at a layer boundary", file=sys.stderr)
        return EXIT_TERMINATED
    except BaseException as e:  # noqa: BLE001 - every failure is either typed or a crash
        if isinstance(e, KeyboardInterrupt):
            raise
        typed = classify(e)
        if typed is None:
            traceback.print_exc()
            return EXIT_CRASH
        if not isinstance(e, ExecutorError):
            traceback.print_exc()
        channel.send({"type": "error", "errorType": typed.error_type, "message": str(typed) or typed.error_type, "retryable": typed.retryable})
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
