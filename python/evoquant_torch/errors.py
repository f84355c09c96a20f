"""Typed executor failures (names from schema/failures.ts) and the CPU memory meter.

Every failure the TypeScript side must tell apart is an ExecutorError with the contract's
errorType; anything else escaping __main__ is a crash (exit 70, retried with the stderr tail).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported lazily: a bad request is answered without loading it
    import torch


class ExecutorError(Exception):
    """A failure reported as an `error` message; `retryable` tells the TS side whether a fresh process may retry."""

    error_type: str = "ExecutorError"
    retryable: bool = False

    def __init__(self, message: str) -> None:
        # One line: the TS side shows it as is.
        super().__init__(" ".join(str(message).split()))


class InvalidCheckpoint(ExecutorError):
    error_type = "InvalidCheckpoint"


class InvalidRequest(ExecutorError):
    error_type = "InvalidRequest"


class UnsupportedRecipe(ExecutorError):
    error_type = "UnsupportedRecipe"


class GpuOutOfMemory(ExecutorError):
    error_type = "GpuOutOfMemory"


class NonFiniteFailure(ExecutorError):
    error_type = "NonFiniteQuantizationError"


class CudaError(ExecutorError):
    error_type = "CudaError"
    retryable = True


class InputFileError(ExecutorError):
    error_type = "InputFileError"


class Terminated(BaseException):
    """SIGTERM seen: unwinds to __main__ at the next layer boundary (BaseException so no `except Exception` eats it)."""


def check_finite(t: torch.Tensor, what: str) -> None:
    """NaN/Inf anywhere in weights, activations or logits is a typed failure, never a silent score."""
    import torch

    if not bool(torch.isfinite(t).all()):
        raise NonFiniteFailure(f"non-finite values in {what}")


def gib(n: int) -> str:
    return f"{n} bytes ({n / 2**30:.3f} GiB)"


class MemoryMeter:
    """The CPU stand-in for the CUDA allocator's cap: a running estimate of the bytes this process holds
    for the current layer (weights, hessians, activations). On CUDA, the allocator itself enforces the cap
    (set_per_process_memory_fraction) and reports the peak, so charge/release are no-ops there."""

    def __init__(self, cap_bytes: int | None, device: torch.device) -> None:
        import torch

        self.cap_bytes = cap_bytes
        self.device = torch.device(device)
        self.held = 0
        self._peak = 0
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            index = self.device.index if self.device.index is not None else torch.cuda.current_device()
            self.total: int | None = int(torch.cuda.get_device_properties(index).total_memory)
            if cap_bytes is not None:
                if cap_bytes <= 0:
                    raise InvalidRequest(f"memoryCapBytes must be positive, got {cap_bytes}")
                torch.cuda.set_per_process_memory_fraction(min(1.0, cap_bytes / self.total), index)
            torch.cuda.reset_peak_memory_stats(index)
            self._index = index
        else:
            self.total = None

    def charge(self, nbytes: int, what: str) -> None:
        if self.cuda:
            return
        self.held += int(nbytes)
        self._peak = max(self._peak, self.held)
        if self.cap_bytes is not None and self.held > self.cap_bytes:
            need = self.held
            self.held -= int(nbytes)
            raise GpuOutOfMemory(f"{what} needs {gib(need)} held at once, over the memory cap of {gib(self.cap_bytes)}")

    def release(self, nbytes: int) -> None:
        if self.cuda:
            return
        self.held = max(0, self.held - int(nbytes))

    @property
    def peak(self) -> int:
        if self.cuda:
            import torch

            return int(torch.cuda.max_memory_allocated(self._index))
        return self._peak


def tensor_bytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)
