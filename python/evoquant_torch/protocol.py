"""The JSON-lines protocol on a dedicated fd, and validation of the requests read from stdin.

Messages are one JSON object per line, flushed each: progress, then a result or a typed error.
A request that fails validation is InvalidRequest with one line naming the field.
SIGTERM sets a flag; the next progress message (sent at least once per layer) raises Terminated, so work
stops at a layer boundary and nothing partial is written.
"""
from __future__ import annotations

import json
import math
import os
import signal
from typing import Any, Callable

from .errors import InvalidRequest, Terminated

STAGES = ("load", "calibrate", "quantize", "write", "evaluate", "reference")
_terminate = False


def _on_sigterm(signum: int, frame: object) -> None:
    global _terminate
    _terminate = True


def install_sigterm() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)


def terminating() -> bool:
    return _terminate


class Channel:
    """Writes messages to the message fd."""

    def __init__(self, fd: int) -> None:
        self.file = os.fdopen(fd, "w", encoding="utf-8", buffering=1, closefd=False)

    def send(self, msg: dict[str, Any]) -> None:
        self.file.write(json.dumps(msg, allow_nan=False, separators=(",", ":")) + "\n")
        self.file.flush()

    def emit(self, msg: dict[str, Any]) -> None:
        """The callback handed to the request drivers: progress messages only; a pending SIGTERM stops here."""
        if msg.get("type") != "progress":
            raise ValueError(f"emit takes progress messages, got {msg.get('type')!r}")
        if msg.get("stage") not in STAGES:
            raise ValueError(f"unknown progress stage {msg.get('stage')!r}")
        if _terminate:
            raise Terminated()
        self.send({"type": "progress", "stage": msg["stage"], "done": int(msg["done"]), "total": int(msg["total"])})
        if _terminate:
            raise Terminated()


# ----- validation ----------------------------------------------------------------------------------

def _field(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise InvalidRequest(f"{where}{key} is missing")
    return obj[key]


def _obj(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise InvalidRequest(f"{where} must be an object")
    return v


def _abs_path(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v or not os.path.isabs(v):
        raise InvalidRequest(f"{where} must be an absolute path, got {json.dumps(v)}")
    return v


def _pos_int(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InvalidRequest(f"{where} must be a positive integer, got {json.dumps(v)}")
    return v


def _nonneg_int(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise InvalidRequest(f"{where} must be a non-negative integer, got {json.dumps(v)}")
    return v


def _files(v: Any, where: str) -> list[str]:
    if not isinstance(v, list) or not v:
        raise InvalidRequest(f"{where} must be a non-empty list of absolute paths")
    return [_abs_path(f, f"{where}[{i}]") for i, f in enumerate(v)]


def _device(v: Any) -> str:
    if v not in ("cpu", "cuda"):
        raise InvalidRequest(f"device must be \"cpu\" or \"cuda\", got {json.dumps(v)}")
    return v


def _cap(req: dict[str, Any]) -> None:
    v = req.get("memoryCapBytes")
    if v is not None:
        _pos_int(v, "memoryCapBytes")


def _known(obj: dict[str, Any], keys: set[str], where: str) -> None:
    extra = sorted(set(obj) - keys)
    if extra:
        raise InvalidRequest(f"{where}unknown field {extra[0]}")


def validate_describe(req: dict[str, Any]) -> dict[str, Any]:
    _known(req, {"kind", "checkpoint"}, "")
    _abs_path(_field(req, "checkpoint", ""), "checkpoint")
    return req


def validate_evaluate(req: dict[str, Any]) -> dict[str, Any]:
    _known(req, {"kind", "model", "reference", "text", "cacheDir", "device", "memoryCapBytes", "kvCache"}, "")
    _abs_path(_field(req, "model", ""), "model")
    if req.get("reference") is not None:
        _abs_path(req["reference"], "reference")
    text = _obj(_field(req, "text", ""), "text")
    _known(text, {"files", "tokens", "seq", "batch"}, "text.")
    _files(_field(text, "files", "text."), "text.files")
    for k in ("tokens", "seq", "batch"):
        _pos_int(_field(text, k, "text."), f"text.{k}")
    _abs_path(_field(req, "cacheDir", ""), "cacheDir")
    _device(_field(req, "device", ""))
    _cap(req)
    if req.get("kvCache") is not None:
        from .kv_cache import parse_kv_policy

        parse_kv_policy(req["kvCache"], "kvCache")  # InvalidRequest naming the field
    return req


_BITS = {2, 3, 4, 8, 16}
_GROUPS = {32, 64, 128, 256, "channel"}


def _spec(name: str, s: Any) -> None:
    where = f"plan.modules[{json.dumps(name)}]"
    s = _obj(s, where)
    bits = _field(s, "bits", where + ".")
    if bits not in _BITS or isinstance(bits, bool):
        raise InvalidRequest(f"{where}.bits must be one of 2, 3, 4, 8, 16, got {json.dumps(bits)}")
    if _field(s, "format", where + ".") not in ("int", "fp8"):
        raise InvalidRequest(f"{where}.format must be \"int\" or \"fp8\", got {json.dumps(s['format'])}")
    g = _field(s, "groupSize", where + ".")
    if isinstance(g, bool) or g not in _GROUPS:
        raise InvalidRequest(f"{where}.groupSize must be 32, 64, 128, 256 or \"channel\", got {json.dumps(g)}")
    if not isinstance(_field(s, "symmetric", where + "."), bool):
        raise InvalidRequest(f"{where}.symmetric must be a boolean")
    m = _obj(_field(s, "method", where + "."), where + ".method")
    kind = m.get("kind")
    if kind == "gptq":
        damp = _field(m, "damp", where + ".method.")
        if isinstance(damp, bool) or not isinstance(damp, (int, float)) or not math.isfinite(damp) or damp <= 0:
            raise InvalidRequest(f"{where}.method.damp must be a positive number, got {json.dumps(damp)}")
        _pos_int(_field(m, "blockSize", where + ".method."), where + ".method.blockSize")
        if not isinstance(_field(m, "actOrder", where + ".method."), bool):
            raise InvalidRequest(f"{where}.method.actOrder must be a boolean")
    elif not isinstance(kind, str):
        raise InvalidRequest(f"{where}.method.kind must be a string")
    # Other method kinds (awq, autoround, ...) are well-formed requests that quantize refuses as UnsupportedRecipe.


def validate_quantize(req: dict[str, Any]) -> dict[str, Any]:
    _known(req, {"kind", "checkpoint", "output", "plan", "calibration", "device", "memoryCapBytes"}, "")
    _abs_path(_field(req, "checkpoint", ""), "checkpoint")
    _abs_path(_field(req, "output", ""), "output")
    plan = _obj(_field(req, "plan", ""), "plan")
    for k in ("recipeName", "recipeHash"):
        v = _field(plan, k, "plan.")
        if not isinstance(v, str) or not v:
            raise InvalidRequest(f"plan.{k} must be a non-empty string")
    modules = _obj(_field(plan, "modules", "plan."), "plan.modules")
    for name, spec in modules.items():
        _spec(name, spec)
    cal = _obj(_field(req, "calibration", ""), "calibration")
    _files(_field(cal, "files", "calibration."), "calibration.files")
    for k in ("tokens", "seq", "batch"):
        _pos_int(_field(cal, k, "calibration."), f"calibration.{k}")
    _nonneg_int(_field(cal, "minTokensPerExpert", "calibration."), "calibration.minTokensPerExpert")
    if _field(cal, "mode", "calibration.") not in ("sequential", "original"):
        raise InvalidRequest(f"calibration.mode must be \"sequential\" or \"original\", got {json.dumps(cal['mode'])}")
    _device(_field(req, "device", ""))
    _cap(req)
    return req


VALIDATORS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "describe": validate_describe,
    "evaluate": validate_evaluate,
    "quantize": validate_quantize,
}


def parse_request(raw: bytes) -> dict[str, Any]:
    """The request object from stdin's bytes, validated for its kind."""
    try:
        req = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidRequest(f"the request on stdin is not JSON: {e}") from None
    if not isinstance(req, dict):
        raise InvalidRequest("the request must be a JSON object")
    kind = req.get("kind")
    if kind not in VALIDATORS:
        raise InvalidRequest(f"kind must be one of {', '.join(VALIDATORS)}, got {json.dumps(kind)}")
    return VALIDATORS[kind](req)
