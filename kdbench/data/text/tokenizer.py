"""A WordPiece tokenizer (the `tokenizers` package) trained on the training split only.

Training it on validation or test sentences would leak their vocabulary into
the model's inputs. The tokenizer is saved as `tokenizer.json` (the package's
own format) beside every kept student, so the deployed model tokenizes exactly
as it was trained: `Tokenizer.from_file("tokenizer.json").encode(text).ids`,
cut to `max_length` and padded with id 0 (`[PAD]`).
"""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

SPECIALS = ["[PAD]", "[UNK]"]  # ids 0 and 1
PAD_INDEX = 0
UNK = "[UNK]"


def train_tokenizer(texts: list[str], vocab_size: int, lowercase: bool) -> Tokenizer:
    """WordPiece on `texts`: BERT's normalization (accents kept), whitespace + punctuation split."""
    tok = Tokenizer(models.WordPiece(unk_token=UNK))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def encode(tok: Tokenizer, texts: list[str], max_length: int) -> np.ndarray:
    """Token ids (N, max_length) int64: cut to `max_length`, padded with PAD_INDEX.

    A text with no tokens (empty, or only characters the normalizer drops) becomes one
    `[UNK]`: models pool over the non-padding positions, and an all-padding row has none.
    """
    out = np.full((len(texts), max_length), PAD_INDEX, dtype=np.int64)
    unk = tok.token_to_id(UNK)
    for i, enc in enumerate(tok.encode_batch(texts, add_special_tokens=False)):
        ids = enc.ids[:max_length] or [unk]
        out[i, : len(ids)] = ids
    return out
