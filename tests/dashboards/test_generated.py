"""The committed generated files are what the generator writes today, byte for byte."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dashboards.cli import dashboards_app
from dashboards.generate import PACKAGE_DIR, render_files

GENERATED_DIRS = ("generated", "provisioning")
REGENERATE = "alertsieve dashboards generate --out dashboards"  # from the repository root


def _on_disk(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for folder in GENERATED_DIRS
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def test_generate_into_a_tmp_dir_matches_the_committed_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(dashboards_app, ["generate", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    fresh = _on_disk(tmp_path)
    committed = _on_disk(PACKAGE_DIR)
    assert sorted(fresh) == sorted(committed), f"stale or missing files: run `{REGENERATE}`"
    outdated = [name for name in fresh if fresh[name] != committed[name]]
    assert outdated == [], f"out of date, run `{REGENERATE}`: {outdated}"


def test_rendering_is_deterministic() -> None:
    assert render_files() == render_files()


def test_generated_files_follow_the_slo_file(tmp_path: Path) -> None:
    slos = (PACKAGE_DIR / "slos.yaml").read_text().replace("objective: 99.9", "objective: 99.5")
    (tmp_path / "slos.yaml").write_text(slos)

    result = CliRunner().invoke(
        dashboards_app, ["generate", "--out", str(tmp_path / "out"), "--slos", str(tmp_path / "slos.yaml")]
    )

    assert result.exit_code == 0, result.output
    rules = (tmp_path / "out/generated/prometheus-rules/alertsieve-scoring-availability.yaml").read_text()
    assert "vector(0.995)" in rules and "(14.4 * 0.005)" in rules
