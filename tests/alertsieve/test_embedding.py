from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from alertsieve.canonical import canonical_text
from alertsieve.embedding import HASHING, MINILM, EmbeddingCache, HashingEncoder, MiniLMEncoder, load_encoder
from alertsieve.onnx_encoder import OnnxMiniLMEncoder, cache_paths
from tests.factories import alert

# Alert-like canonical texts, short and long (the last is over the 256-token limit, so truncation is checked).
SAMPLE = [
    "alert: HighLatency | service: checkout | severity: warning | summary: p99 latency <num>s on checkout",
    "alert: HighLatency | service: payments | severity: warning | summary: p99 latency <num>s on payments",
    "alert: DiskFull | service: postgres | severity: critical | summary: volume /var/lib/postgresql <num>% full",
    "alert: PodCrashLooping | service: api | summary: pod api-<pod> restarted <num> times in <num> minutes",
    "alert: CertificateExpiry | service: ingress | summary: TLS certificate for <host> expires in <num> days",
    "alert: NodeNotReady | service: kubernetes | severity: critical | summary: node <ip> is NotReady",
    "alert: HighErrorRate | service: search | summary: <num>% of requests return 5xx",
    "alert: QueueBacklog | service: billing | summary: kafka consumer lag <num> messages on topic invoices",
    "alert: MemoryPressure | service: cache | summary: redis used_memory above <num>% of maxmemory",
    "alert: TargetDown | service: node-exporter | summary: <num>% of targets in job node are down",
    "alert: SLOBurnRate | service: checkout | severity: page | summary: error budget burning <num>x too fast",
    "alert: BackupFailed | service: postgres | summary: nightly backup job failed with exit code <num>",
    "alert: CPUThrottling | service: recommendations | summary: container throttled <num>% of periods",
    "alert: DNSResolutionFailures | service: coredns | summary: SERVFAIL responses increased",
    "alert: ReplicationLag | service: mysql | summary: replica lag <num> seconds behind primary",
    "alert: Watchdog | summary: this alert is always firing, to prove the pipeline works",
    "alert: JobFailed | service: etl | summary: job ingest-<id> failed: OOMKilled",
    "Ünïcödé summary — naïve café résumé 日本語",
    "a",
    " ".join(f"word{i} latency spike on pod checkout-<pod>" for i in range(120)),
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cosines: np.ndarray = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return cosines


class CountingEncoder:
    """Records every batch it is asked to encode; row i is a one-hot of the text's first character."""

    name = "counting"
    dim = 4

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def encode(self, texts):
        self.batches.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, ord(text[0]) % self.dim] = 1.0
        return out


def _encoded(encoder: CountingEncoder) -> list[str]:
    return [t for batch in encoder.batches for t in batch]


def test_cache_encodes_each_distinct_miss_once():
    encoder = CountingEncoder()
    cache = EmbeddingCache(encoder)
    out = cache.embed(["a", "b", "a", "a"])
    assert sorted(_encoded(encoder)) == ["a", "b"]
    assert len(encoder.batches) == 1
    assert out.shape == (4, 4)
    assert np.array_equal(out[0], out[2]) and np.array_equal(out[0], out[3])
    assert np.array_equal(out[0], encoder.encode(["a"])[0])


def test_cache_only_encodes_misses():
    encoder = CountingEncoder()
    cache = EmbeddingCache(encoder)
    cache.embed(["a", "b"])
    first = list(encoder.batches)
    again = cache.embed(["b", "c", "a"])
    assert encoder.batches[len(first)] == ["c"]
    assert np.array_equal(again[0], cache.embed(["b"])[0])
    cache.embed(["a", "b", "c"])
    assert len(encoder.batches) == 2  # nothing new: no encoder call at all


def test_hit_ratio():
    cache = EmbeddingCache(CountingEncoder())
    assert cache.hit_ratio == 0.0
    cache.embed(["a", "b"])  # 2 misses
    cache.embed(["a", "a", "b", "c"])  # 3 hits, 1 miss
    assert (cache.lookups, cache.hits) == (6, 3)
    assert cache.hit_ratio == pytest.approx(0.5)


def test_lru_eviction():
    encoder = CountingEncoder()
    cache = EmbeddingCache(encoder, capacity=2)
    cache.embed(["a"])
    cache.embed(["b"])
    cache.embed(["a"])  # a is now the most recently used
    cache.embed(["c"])  # evicts b
    encoder.batches.clear()
    cache.embed(["a", "c"])
    assert encoder.batches == []
    cache.embed(["b"])
    assert encoder.batches == [["b"]]


def test_batch_larger_than_capacity_still_answers_every_row():
    cache = EmbeddingCache(CountingEncoder(), capacity=1)
    out = cache.embed(["a", "b", "c"])
    assert out.shape == (3, 4)
    assert np.count_nonzero(out) == 3
    assert len(cache._store) == 1


def test_empty_batch():
    encoder = CountingEncoder()
    out = EmbeddingCache(encoder).embed([])
    assert out.shape == (0, 4)
    assert encoder.batches == []


def test_hashing_encoder_deterministic_and_normalised():
    texts = ["alert: HighLatency | service: checkout", "alert: DiskFull | service: db", ""]
    first, second = HashingEncoder().encode(texts), HashingEncoder().encode(texts)
    assert first.dtype == np.float32 and first.shape == (3, 64)
    assert np.array_equal(first, second)
    assert np.allclose(np.linalg.norm(first[:2], axis=1), 1.0, atol=1e-6)
    assert not np.allclose(first[0], first[1])
    assert HashingEncoder(dim=16).encode(["x"]).shape == (1, 16)
    # Case-insensitive trigrams.
    assert np.array_equal(HashingEncoder().encode(["ABC"]), HashingEncoder().encode(["abc"]))


def test_load_encoder():
    assert isinstance(load_encoder(HASHING), HashingEncoder)
    assert load_encoder(HASHING).name == HASHING
    with pytest.raises(ValueError, match="unknown encoder 'bert'"):
        load_encoder("bert")


@pytest.fixture(scope="module")
def minilm() -> MiniLMEncoder:
    return MiniLMEncoder()


def test_minilm(minilm):
    assert minilm.name == MINILM and minilm.dim == 384
    same_rule = [  # one rule on two services: different texts after masking
        canonical_text(alert(name="HighLatency", service="checkout", summary="p99 latency 1.9s on checkout")),
        canonical_text(alert(name="HighLatency", service="payments", summary="p99 latency 2.7s on payments")),
    ]
    assert same_rule[0] != same_rule[1]
    other = canonical_text(
        alert(name="DiskFull", service="postgres", severity="critical", summary="volume /var/lib/postgresql 97% full")
    )
    vectors = minilm.encode([*same_rule, other])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    near = float(vectors[0] @ vectors[1])
    far = max(float(vectors[0] @ vectors[2]), float(vectors[1] @ vectors[2]))
    assert near > far
    raw = minilm.encode(
        [
            "p99 latency 1.9s on checkout-7d9f8b6c4-x2kqz",
            "p99 latency 2.7s on checkout-5c6d7f8b9-q9wzt",
            "volume /var/lib/postgresql 97% full",
        ]
    )
    assert float(raw[0] @ raw[1]) > float(raw[0] @ raw[2])
    assert minilm.encode([]).shape == (0, 384)


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoders")


@pytest.fixture(scope="module")
def onnx_minilm(onnx_dir) -> OnnxMiniLMEncoder:
    return OnnxMiniLMEncoder(onnx_dir)


def test_onnx_encoder_gives_the_torch_vectors(onnx_minilm, minilm):
    assert onnx_minilm.exported and onnx_minilm.name == MINILM and onnx_minilm.dim == 384
    # The same tokens as the torch path: the same tokenizer, truncated at the same max length.
    ours = [e.ids for e in onnx_minilm.session.tokenizer.encode_batch(SAMPLE)]
    theirs = minilm.model.tokenizer(SAMPLE, truncation=True, max_length=minilm.model.max_seq_length)["input_ids"]
    assert ours == theirs and len(ours[-1]) == minilm.model.max_seq_length == 256
    torch_vectors = minilm.encode(SAMPLE)
    batched = onnx_minilm.encode(SAMPLE)
    one_by_one = np.concatenate([onnx_minilm.encode([text]) for text in SAMPLE])
    assert batched.shape == (len(SAMPLE), 384) and batched.dtype == np.float32
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert _cosines(batched, torch_vectors).min() >= 0.9999
    assert _cosines(one_by_one, torch_vectors).min() >= 0.9999
    assert onnx_minilm.encode([]).shape == (0, 384)


def test_onnx_export_is_cached(onnx_minilm, onnx_dir):
    graph, probe = cache_paths(onnx_dir)
    stamps = graph.stat().st_mtime_ns, probe.stat().st_mtime_ns
    again = OnnxMiniLMEncoder(onnx_dir)
    assert not again.exported
    assert (graph.stat().st_mtime_ns, probe.stat().st_mtime_ns) == stamps
    assert np.array_equal(again.encode(SAMPLE[:3]), onnx_minilm.encode(SAMPLE[:3]))


def test_a_broken_cache_file_is_exported_again(tmp_path, onnx_minilm, caplog):
    graph, _ = cache_paths(tmp_path)
    first = OnnxMiniLMEncoder(tmp_path)
    assert first.exported
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])  # a half-written file
    with caplog.at_level(logging.WARNING, logger="alertsieve.onnx_encoder"):
        repaired = OnnxMiniLMEncoder(tmp_path)
    assert repaired.exported and "unusable" in caplog.text
    assert _cosines(repaired.encode(SAMPLE), onnx_minilm.encode(SAMPLE)).min() >= 0.9999


def test_load_encoder_picks_the_runtime(onnx_minilm, onnx_dir, tmp_path, caplog):
    assert isinstance(load_encoder(MINILM, cache_dir=onnx_dir, runtime="auto"), OnnxMiniLMEncoder)
    assert isinstance(load_encoder(MINILM, cache_dir=onnx_dir, runtime="onnx"), OnnxMiniLMEncoder)
    assert isinstance(load_encoder(MINILM, cache_dir=onnx_dir, runtime="torch"), MiniLMEncoder)
    # No ONNX graph to be had (the cache directory cannot be created): torch, with a warning.
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="alertsieve.embedding"):
        fallback = load_encoder(MINILM, cache_dir=blocked / "encoders", runtime="auto")
    assert isinstance(fallback, MiniLMEncoder) and fallback.name == MINILM
    assert "using torch" in caplog.text
