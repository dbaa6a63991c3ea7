"""The two locks and the image: requirements.lock is the runtime (pyproject's dependencies and everything they
need: what the Serve app, training and the CLI import), requirements-dev.lock the test and lint tools and what
only they need; `make install` installs both, the Dockerfile only the runtime one, and the image checks its
health on /readyz. The dependency closure is read from the installed packages' metadata (make install installs
exactly the locks), so a package moved to the wrong lock fails here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.train_app.manifest_schemas import ROOT
from tests.train_app.test_manifests import dockerfile_stages

RUNTIME, DEV = ROOT / "requirements.lock", ROOT / "requirements-dev.lock"
# what is only ever a test or lint tool: none of it may reach the image
TOOLS = (
    "pytest", "pytest-cov", "pytest-timeout", "coverage", "mypy", "ruff", "moto", "selenium", "schemathesis",
    "hypothesis", "responses", "iniconfig", "pluggy", "types-pyyaml", "cfn-lint",
)  # fmt: skip


def pins(path: Path) -> dict[str, str]:
    """canonical name -> version of a lock: one ``name==version`` a line (comments aside), none twice."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    entries = [line for line in lines if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.]+", e) for e in entries), entries
    found: dict[str, str] = {canonicalize_name(e.split("==")[0]): e.split("==")[1] for e in entries}
    assert len(found) == len(entries), "a package is pinned twice"
    return found


def closure(requirements: list[str]) -> set[str]:
    """Canonical names of ``requirements`` and everything they need here, extras and markers honoured."""
    extras: dict[str, set[str]] = {}
    stack = [Requirement(r) for r in requirements]
    while stack:
        req = stack.pop()
        name = canonicalize_name(req.name)
        if name in extras and set(req.extras) <= extras[name]:
            continue
        extras[name] = extras.get(name, set()) | set(req.extras)
        try:
            needs = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in needs:
            need = Requirement(text)
            if need.marker is None or any(need.marker.evaluate({"extra": e}) for e in extras[name] or {""}):
                stack.append(need)
    return set(extras)


def test_the_runtime_lock_holds_no_test_or_lint_package_and_the_dev_lock_nothing_the_runtime_needs() -> None:
    runtime, dev = pins(RUNTIME), pins(DEV)
    assert not [t for t in TOOLS if t in runtime] and not [n for n in runtime if n.startswith("types-")]
    assert set(TOOLS) <= set(dev)
    assert not set(runtime) & set(dev)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = closure(project["dependencies"])
    # torch comes first from its own index (CPU or CUDA wheels): what only it needs may be absent from the lock
    torch_only = closure(["torch"])
    assert not needed - set(runtime) - torch_only, "a runtime dependency is missing from requirements.lock"
    assert set(runtime) <= needed, "requirements.lock holds a package the runtime does not need"
    assert not set(dev) & needed, "requirements-dev.lock holds a package the runtime needs"
    assert set(dev) <= closure(project["optional-dependencies"]["dev"])
    for name, version in {**runtime, **dev}.items():  # the locks are what is installed
        assert metadata.version(name) == version, name


def test_make_install_installs_both_locks_and_reinstalls_when_either_changes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    [target] = [line for line in makefile.splitlines() if line.startswith("$(VENV)/.installed:")]
    assert {"requirements.lock", "requirements-dev.lock"} <= set(target.split()[1:])
    assert "pip install -q -r requirements.lock -r requirements-dev.lock" in makefile


def test_the_image_installs_only_the_runtime_lock_and_checks_its_readiness() -> None:
    stages = {s["name"]: s for s in dockerfile_stages((ROOT / "Dockerfile").read_text()) if s["base"]}
    instructions = [f"{op} {rest}" for stage in stages.values() for op, rest in stage["steps"]]
    assert not [i for i in instructions if "requirements-dev" in i or "[dev]" in i]
    copies = [rest.split() for op, rest in stages["build"]["steps"] if op == "COPY"]
    assert [c for c in copies if any(p.endswith(".lock") for p in c)] == [["requirements.lock", "./"]]
    assert not [i for i in instructions if re.search(r"\b(pytest|mypy|ruff|moto|selenium|schemathesis)\b", i)]
    [check] = [rest for op, rest in stages["runtime"]["steps"] if op == "HEALTHCHECK"]
    options, _, command = check.partition(" CMD ")
    assert "--start-period=" in options and "--interval=" in options
    argv = json.loads(command)  # exec form, python's urllib: the slim image has no curl
    assert argv[:2] == ["python", "-c"] and "urllib.request.urlopen" in argv[2]
    assert "/readyz" in argv[2] and "'ALERTSIEVE_PORT', '8000'" in argv[2] and "127.0.0.1" in argv[2]
    runtime_env = " ".join(rest for op, rest in stages["runtime"]["steps"] if op == "ENV")
    assert "ALERTSIEVE_PORT=8000" in runtime_env
    # the check itself: healthy while /readyz answers 200, unhealthy on its 503 and on anything else
    assert [_health(argv[2], status) for status in (200, 503)] == [0, 1]
    assert _health(argv[2], 200, path="/elsewhere") == 1


def _health(script: str, status: int, path: str = "/readyz") -> int:
    """The exit status of the HEALTHCHECK script against a stand-in app answering ``status`` on ``path``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(status if self.path == path else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**os.environ, "ALERTSIEVE_PORT": str(port)}
        return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=30).returncode
    finally:
        server.shutdown()
        server.server_close()
