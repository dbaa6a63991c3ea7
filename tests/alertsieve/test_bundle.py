from __future__ import annotations

import json
import shutil

import pytest

from alertsieve.bundle import INDEX_FILE, META_FILE, VECTORS_FILE, WEIGHTS_FILE, BundleError, load_bundle
from alertsieve.embedding import EmbeddingCache, HashingEncoder
from alertsieve.scoring import Scorer
from tests.factories import alert

END = 8 * 24 * 60


@pytest.fixture()
def saved(small_bundle, tmp_path):
    return small_bundle.save(tmp_path / "bundle")


def _alerts():
    return [
        alert(name="HighLatency", service="auth", at=END + 30, pod="auth-7d9f8b6c4-bbbbb"),
        alert(name="DiskUsageHigh", service="checkout", at=END + 31, severity="info"),
        alert(name="ServiceDown", service="payments", at=END + 32, severity="critical"),
        alert(name="ServiceDown", service="unknown-svc", at=END + 32, severity="critical"),
    ]


def test_roundtrip_gives_identical_decisions(small_bundle, saved):
    assert sorted(p.name for p in saved.iterdir()) == sorted([META_FILE, WEIGHTS_FILE, INDEX_FILE, VECTORS_FILE])
    loaded = load_bundle(saved)
    assert loaded.meta == small_bundle.meta
    before = Scorer(small_bundle, EmbeddingCache(HashingEncoder())).score(_alerts())
    after = Scorer(loaded, EmbeddingCache(HashingEncoder())).score(_alerts())
    assert [d.model_dump() for d in after] == [d.model_dump() for d in before]
    assert not any(d.reason.startswith("fail-open") for d in after)


def test_version_override(saved):
    assert load_bundle(saved).version == "local"
    assert load_bundle(saved, version="7").version == "7"


def test_missing_directory(tmp_path):
    with pytest.raises(BundleError, match="cannot load model bundle"):
        load_bundle(tmp_path / "nope")


@pytest.mark.parametrize("name", [META_FILE, WEIGHTS_FILE, INDEX_FILE, VECTORS_FILE])
def test_missing_file(saved, name):
    (saved / name).unlink()
    with pytest.raises(BundleError):
        load_bundle(saved)


@pytest.mark.parametrize("name", [META_FILE, WEIGHTS_FILE, INDEX_FILE, VECTORS_FILE])
def test_corrupt_file(saved, name):
    (saved / name).write_bytes(b"this is not what you think")
    with pytest.raises(BundleError):
        load_bundle(saved)


def test_meta_that_does_not_validate(saved):
    meta = json.loads((saved / META_FILE).read_text())
    del meta["scaler"]
    (saved / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="scaler"):
        load_bundle(saved)


def test_other_format(saved):
    meta = json.loads((saved / META_FILE).read_text())
    meta["format"] = 99
    (saved / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="format 99"):
        load_bundle(saved)


def test_weights_of_another_model(small_bundle, saved, tmp_path):
    # A bundle whose weights do not fit its recorded shapes is broken, not a crash.
    other = tmp_path / "other"
    shutil.copytree(saved, other)
    meta = json.loads((other / META_FILE).read_text())
    meta["n_dense"] += 1
    (other / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(BundleError):
        load_bundle(other)
