"""The lexical view of an alert's canonical text: hashed word uni- and bigrams.

The sentence embedding blurs exact tokens: two rule ids or signature names a character apart embed almost
alike, while one of them is an incident and the other noise. Beside the embedding the classifier reads
the text's words and word pairs, hashed into ``dims`` signed buckets (a stable hash, so the same text gives
the same row in every process), L2-normalised so that a text's row has the embedding's scale. The
classifier's L2 penalty (chosen on held-out log-loss) keeps these weights regularised.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

TOKEN = re.compile(r"[a-z0-9_]+")


@lru_cache(maxsize=50_000)
def _row(text: str, dims: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    words = TOKEN.findall(text.lower())
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    counts: dict[int, float] = {}
    for gram in grams:
        h = zlib.crc32(gram.encode())
        column = h % dims
        counts[column] = counts.get(column, 0.0) + (1.0 if (h >> 31) & 1 else -1.0)
    norm = float(np.sqrt(sum(v * v for v in counts.values()))) or 1.0
    columns = tuple(sorted(counts))
    return columns, tuple(counts[c] / norm for c in columns)


def lexical_rows(texts: Sequence[str], dims: int) -> np.ndarray:
    """One row of ``dims`` hashed, signed, L2-normalised n-gram counts per text (no columns when 0)."""
    out = np.zeros((len(texts), dims), dtype=np.float32)
    if dims == 0:
        return out
    for i, text in enumerate(texts):
        columns, values = _row(text, dims)
        out[i, list(columns)] = values
    return out
