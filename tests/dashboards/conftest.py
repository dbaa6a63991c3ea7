"""Fixtures of the dashboards tests: promtool, and a stand-in for Grafana's HTTP API.

The stand-in (fake_grafana.py) answers the two endpoints ``dashboards.push`` uses. A fake is used
only because no Grafana server can be installed where these tests run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.dashboards.fake_grafana import FakeGrafana, running_fake_grafana


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool (Debian package ``prometheus``); missing promtool fails, never skips."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: apt-get install -y prometheus")
    return path


@pytest.fixture
def fake_grafana() -> Iterator[FakeGrafana]:
    """A started stand-in for Grafana's folder and dashboard API on a free local port."""
    with running_fake_grafana() as state:
        yield state
