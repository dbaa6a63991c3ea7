"""`alertsieve dashboards generate` writes under the current directory unless --out says where."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dashboards.cli import dashboards_app
from dashboards.generate import PACKAGE_DIR


def test_generate_writes_under_the_current_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = PACKAGE_DIR / "generated" / "grafana-alert-rules.yaml"
    before = packaged.stat().st_mtime_ns
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(dashboards_app, ["generate"])

    assert result.exit_code == 0, result.output
    written = [Path(line.removeprefix("wrote ")) for line in result.output.splitlines()]
    assert written and all(path.is_relative_to("dashboards-out") for path in written)
    assert (tmp_path / "dashboards-out" / "generated" / "grafana-alert-rules.yaml").is_file()
    assert (tmp_path / "dashboards-out" / "provisioning" / "dashboards" / "alertsieve.yaml").is_file()
    assert packaged.stat().st_mtime_ns == before  # the installed package is left alone


def test_out_and_its_old_name_root_name_the_folder(tmp_path: Path) -> None:
    for flag, folder in (("--out", tmp_path / "a"), ("--root", tmp_path / "b")):
        result = CliRunner().invoke(dashboards_app, ["generate", flag, str(folder)])
        assert result.exit_code == 0, result.output
        assert (folder / "generated" / "grafana-alert-rules.yaml").is_file()
