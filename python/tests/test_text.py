"""Text files, tokenization (tokenizer.json through the tokenizers library, or bytes) and the evenly
spaced windows of science/evaluation/windows.ts."""
from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch

from evoquant_torch.checkpoint import Checkpoint
from evoquant_torch.errors import InputFileError
from evoquant_torch.text import even_windows, load_text, tokenize, window_tensor

from .fixtures import make_checkpoint, make_tokenizer

torch.set_num_threads(1)
TEXT = ("The naïve café served crème brûlée to 東京 visitors — twice. " * 3 + "Tokens 😀 and ümlauts.\n") * 8


class Text(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def test_files_join_with_newline_and_bad_files_are_typed(self) -> None:
        a, b = self.dir / "a.txt", self.dir / "b.txt"
        a.write_bytes("héllo".encode())
        b.write_bytes(b"world")
        self.assertEqual(load_text([str(a), str(b)]), "héllo\nworld".encode())
        (self.dir / "empty.txt").write_bytes(b"")
        (self.dir / "latin1.txt").write_bytes("café".encode("latin-1"))
        for bad, why in ((self.dir / "nope.txt", "does not exist"), (self.dir / "empty.txt", "is empty"),
                         (self.dir, "is a directory"), (self.dir / "latin1.txt", "is not UTF-8")):
            with self.assertRaisesRegex(InputFileError, why):
                load_text([str(a), str(bad)])

    def test_even_windows_follow_windows_ts(self) -> None:
        # span 10, floor(100/10) = 10 windows possible, ceil(30/9) = 4 wanted, stride floor(100/4) = 25
        self.assertEqual(even_windows(100, 9, 30), [0, 25, 50, 75])
        # capped by the corpus: floor(50/10) = 5 windows, stride 10
        self.assertEqual(even_windows(50, 9, 1000), [0, 10, 20, 30, 40])
        self.assertEqual(even_windows(1000, 64, 64), [0])
        self.assertEqual(even_windows(1003, 100, 250), [0, 334, 668])
        with self.assertRaisesRegex(InputFileError, "too short for windows of 65"):
            even_windows(64, 64, 64)

    def test_bytes_tokenizer_and_windows(self) -> None:
        ckpt = Checkpoint.open(str(make_checkpoint("llama", self.dir / "m")))
        t = tokenize(ckpt, TEXT.encode())
        self.assertEqual(t.ids.tolist(), list(TEXT.encode()))
        self.assertTrue(bool((t.byte_len == 1).all()))
        ids, blen = window_tensor(t, 16, 40)
        starts = even_windows(len(TEXT.encode()), 16, 40)
        self.assertEqual(ids.shape, (3, 17))
        for w, s in enumerate(starts):
            self.assertEqual(ids[w].tolist(), list(TEXT.encode()[s:s + 17]))

    def test_tokenizer_json_byte_lengths_are_exact(self) -> None:
        d = make_checkpoint("qwen2", self.dir / "q")
        make_tokenizer(d, TEXT)
        ckpt = Checkpoint.open(str(d))
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        t = tokenize(ckpt, TEXT.encode())
        self.assertEqual(t.ids.tolist(), tok.encode(TEXT, add_special_tokens=False).ids)
        self.assertLess(len(t.ids), len(TEXT.encode()))  # merges happened
        # Every token's bytes: decoding each prefix of tokens gives exactly the summed byte lengths.
        self.assertEqual(int(t.byte_len.sum()), len(TEXT.encode()))
        cum = torch.cumsum(t.byte_len, 0).tolist()
        for n in range(1, len(t.ids), 7):
            prefix = tok.decode(t.ids[:n].tolist())
            if "\ufffd" not in prefix:  # a multi-byte character split by the cut
                self.assertEqual(len(prefix.encode()), cum[n - 1])

    def test_other_tokenizers_count_bytes_by_character_span(self) -> None:
        # A whitespace-split BPE (no byte-level decoder): bytes from the offsets; whitespace no token covers is not counted.
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.train_from_iterator([TEXT], trainer=trainers.BpeTrainer(vocab_size=200, special_tokens=["[UNK]"], show_progress=False))
        d = make_checkpoint("llama", self.dir / "w")
        tok.save(str(d / "tokenizer.json"))
        t = tokenize(Checkpoint.open(str(d)), TEXT.encode())
        enc = tok.encode(TEXT, add_special_tokens=False)
        self.assertEqual(t.byte_len.tolist(), [len(TEXT[a:b].encode()) for a, b in enc.offsets])
        self.assertEqual(int(t.byte_len.sum()), len("".join(TEXT.split()).encode()))


if __name__ == "__main__":
    unittest.main()
