"""Evaluation and calibration text: files → UTF-8 bytes → token ids (the checkpoint's tokenizer.json
through the tokenizers library, offline, or one token per byte) → evenly spaced windows exactly as
science/evaluation/windows.ts `evenWindows` places them."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .errors import InputFileError, InvalidCheckpoint, InvalidRequest

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from .checkpoint import Checkpoint


def load_text(files: list[str]) -> bytes:
    """The files' UTF-8 bytes joined with `\\n`; InputFileError for a missing, empty, directory or non-UTF-8 file."""
    if not files:
        raise InputFileError("no text files given")
    parts: list[bytes] = []
    for f in files:
        p = Path(f)
        if p.is_dir():
            raise InputFileError(f"text file {f} is a directory")
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise InputFileError(f"text file {f} does not exist") from None
        except OSError as e:
            raise InputFileError(f"text file {f} is unreadable: {e.strerror}") from None
        if not data:
            raise InputFileError(f"text file {f} is empty")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputFileError(f"text file {f} is not UTF-8 (byte {e.start})") from None
        parts.append(data)
    return b"\n".join(parts)


@dataclass
class Tokens:
    ids: torch.Tensor  # LongTensor [n]
    byte_len: torch.Tensor  # LongTensor [n]: UTF-8 bytes each token stands for


def tokenizer_kind(checkpoint_dir: Path) -> str:
    return "tokenizer.json" if (checkpoint_dir / "tokenizer.json").is_file() else "bytes"


def tokenize(checkpoint: "Checkpoint", text: bytes) -> Tokens:
    """Token ids of text with the checkpoint's own tokenizer (no special tokens added)."""
    vocab = checkpoint.arch.vocab
    if tokenizer_kind(checkpoint.path) == "bytes":
        if vocab < 256:
            raise InvalidCheckpoint(f"{checkpoint.path} has no tokenizer.json and a vocab of {vocab} < 256 byte tokens")
        ids = torch.frombuffer(bytearray(text), dtype=torch.uint8).to(torch.long)
        return Tokens(ids, torch.ones_like(ids))
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(checkpoint.path / "tokenizer.json"))
    except Exception as e:  # the library raises its own exception type
        raise InvalidCheckpoint(f"tokenizer.json of {checkpoint.path} is unreadable: {e}") from None
    s = text.decode("utf-8")
    enc = tok.encode(s, add_special_tokens=False)
    ids = torch.tensor(enc.ids, dtype=torch.long)
    if ids.numel() and int(ids.max()) >= vocab:
        raise InvalidCheckpoint(f"tokenizer.json of {checkpoint.path} produces id {int(ids.max())} beyond the vocab of {vocab}")
    if _is_byte_level(checkpoint.path / "tokenizer.json"):
        return Tokens(ids, _byte_level_lengths(tok, enc.ids))
    return Tokens(ids, _byte_lengths(s, enc.offsets))


def _is_byte_level(path: Path) -> bool:
    """GPT-2-style byte-level BPE (Qwen, Llama 3): every character of a token string stands for one byte."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(spec, dict) and isinstance(spec.get("decoder"), dict) and spec["decoder"].get("type") == "ByteLevel"


def _byte_level_lengths(tok: "Tokenizer", ids: list[int]) -> torch.Tensor:
    """Exact bytes per token of a byte-level BPE: the length of its token string (added tokens: their UTF-8 content)."""
    added = {int(i): len(t.content.encode("utf-8")) for i, t in tok.get_added_tokens_decoder().items()}
    table: dict[int, int] = {}
    out: list[int] = []
    for i in ids:
        n = table.get(i)
        if n is None:
            n = added[i] if i in added else len(tok.id_to_token(i) or "")
            table[i] = n
        out.append(n)
    return torch.tensor(out, dtype=torch.long)


def _byte_lengths(s: str, offsets: list[tuple[int, int]]) -> torch.Tensor:
    """Bytes of each token from its character span (tokenizers other than byte-level BPE); a character split over several tokens (byte-level BPE)
    counts once, for the first token that covers it, so the lengths sum to the bytes covered."""
    prefix = [0] * (len(s) + 1)
    acc = 0
    for i, ch in enumerate(s):
        acc += len(ch.encode("utf-8"))
        prefix[i + 1] = acc
    out: list[int] = []
    covered = 0  # characters already counted
    for start, end in offsets:
        a = max(start, covered)
        out.append(max(0, prefix[end] - prefix[a]) if end > a else 0)
        covered = max(covered, end)
    return torch.tensor(out, dtype=torch.long)


def even_windows(n_tokens: int, seq: int, tokens: int) -> list[int]:
    """Start offsets of ceil(tokens/seq) windows of seq+1 tokens spread evenly (evenWindows in windows.ts)."""
    if seq < 1 or tokens < 1:
        raise InvalidRequest(f"seq and tokens must be positive, got seq {seq}, tokens {tokens}")
    span = seq + 1
    count = min(n_tokens // span, math.ceil(tokens / seq))
    if count < 1:
        raise InputFileError(f"text of {n_tokens} tokens is too short for windows of {span}")
    stride = n_tokens // count
    return [w * stride for w in range(count)]


def window_tensor(t: Tokens, seq: int, tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids [W, seq+1] and byte lengths [W, seq+1] of the windows."""
    starts = torch.tensor(even_windows(int(t.ids.numel()), seq, tokens), dtype=torch.long)
    idx = starts[:, None] + torch.arange(seq + 1)[None, :]
    return t.ids[idx], t.byte_len[idx]
