"""Model comparison: variant specs, the aligned table, and versions and variants scored on one window."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from alertsieve import registry
from alertsieve.bundle import ModelBundle
from alertsieve.embedding import HASHING, MINILM
from alertsieve.featurize import FeatureConfig
from alertsieve.model import TrainParams
from alertsieve.policy import ThresholdParams
from alertsieve.records import write_jsonl
from alertsieve.settings import Settings
from alertsieve.simulate import simulate_history
from tests.train_app.cli_args import window_args
from train_app.compare import ComparisonRow, compare_table, compare_variants, compare_versions, parse_variant
from train_app.window import TrainingWindow, WindowSpec, cut_window


@pytest.fixture(scope="module")
def window() -> TrainingWindow:
    return cut_window(simulate_history(days=10, seed=5), WindowSpec(weeks=2, holdout_days=2))


def test_variant_specs_name_featurisation_changes() -> None:
    assert parse_variant("encoder=hashing").features.encoder == HASHING
    minilm = parse_variant("encoder=minilm,neighbours=off")
    assert minilm.features.encoder == MINILM and not minilm.features.use_neighbours
    assert minilm.features.use_embedding == FeatureConfig().use_embedding  # what the spec leaves out: the default
    assert minilm.name == "minilm+no-neighbours"
    named = parse_variant("text-only:encoder=hashing,embedding=on,neighbours=no")
    assert named.name == "text-only" and named.features.use_embedding and not named.features.use_neighbours
    flipped = not FeatureConfig().use_embedding  # names show the switches that differ from the defaults
    spec = f"embedding={'on' if flipped else 'off'},encoder=hashing-64,neighbours=on"
    assert parse_variant(spec).name == "hashing-64+" + ("embedding" if flipped else "no-embedding")
    with pytest.raises(ValueError, match="cannot read 'encoder=bert'"):
        parse_variant("encoder=bert")


def render(rows: list[ComparisonRow]) -> list[str]:
    console = Console(width=140, record=True)
    console.print(compare_table(rows, 0.015))
    return console.export_text().splitlines()


def test_the_table_aligns_rows_and_marks_fnr_over_budget() -> None:
    rows = [
        ComparisonRow(
            name="v3",
            kind="version",
            alerts=2000,
            actionable=300,
            noise_reduction=0.4512,
            fnr=0.0067,
            auc=0.93456,
            p95_latency_ms=4.25,
            train_seconds=61.0,
        ),
        ComparisonRow(
            name="hashing-64+no-neighbours",
            kind="variant",
            alerts=2000,
            actionable=300,
            noise_reduction=0.6,
            fnr=0.02,
            auc=None,
            p95_latency_ms=float("nan"),
            train_seconds=None,
        ),
    ]
    lines = render(rows)
    header = next(line for line in lines if "noise reduction" in line)
    for column in ("model", "kind", "alerts", "FNR", "AUC", "P95 ms", "train s"):
        assert column in header
    first = next(line for line in lines if line.lstrip("│ ").startswith("v3"))
    second = next(line for line in lines if "hashing-64+no-neighbours" in line)
    assert "45.1%" in first and "0.67%" in first and "0.935" in first and "4.2" in first and "61.0" in first
    assert "2.00% !" in second and " - " in second
    assert len(first) == len(second) and first.index("45.1%") == second.index("60.0%")  # one column
    assert any("FNR budget 1.50%" in line for line in lines)


def test_variants_and_versions_are_scored_on_the_same_held_out_days(
    window: TrainingWindow, isolated_model: Settings, small_bundle: ModelBundle
) -> None:
    variants = [parse_variant("encoder=hashing"), parse_variant("encoder=hashing,neighbours=off,embedding=on")]
    rows = compare_variants(variants, window, TrainParams(epochs=2), ThresholdParams(), sample=20)
    assert [r.name for r in rows] == ["hashing-64", variants[1].name] and rows[1].name != "hashing-64"
    assert {r.alerts for r in rows} == {len(window.holdout)}
    assert all(r.train_seconds and r.train_seconds > 0 and r.p95_latency_ms > 0 for r in rows)
    assert all(r.auc is not None and 0.5 < r.auc <= 1.0 for r in rows)

    version = registry.register(small_bundle, isolated_model, {}, {"train_seconds": 12.5}, aliases=("champion",))
    [row] = compare_versions(["champion"], window, isolated_model, sample=10)
    assert row.name.startswith(f"champion (v{version})") and row.train_seconds == 12.5
    assert row.alerts == len(window.holdout)
    saw_holdout = max(t for t, *_ in small_bundle.meta.stream.recent) > window.split.timestamp()
    assert ("*trained on held-out days" in row.name) == saw_holdout


def test_compare_command_prints_one_table(ray_cluster, isolated_model: Settings, tmp_path: Path) -> None:
    from train_app.__main__ import build

    history = tmp_path / "history.jsonl"
    write_jsonl(history, simulate_history(days=9, seed=6))
    argv = [
        "compare",
        *window_args(history),
        "--variant",
        "encoder=hashing",
        "--variant",
        "flat:encoder=hashing,neighbours=off",
        "--epochs",
        "2",
        "--latency-sample",
        "10",
        "--state",
        str(tmp_path / "state"),
    ]
    result = CliRunner().invoke(build(), argv)
    assert result.exit_code == 0, result.output
    assert "held-out alerts" in result.output and "hashing-64" in result.output and "flat" in result.output
    missing = CliRunner().invoke(build(), ["compare", "--history", str(history)])
    assert missing.exit_code == 2 and "nothing to compare" in missing.output
