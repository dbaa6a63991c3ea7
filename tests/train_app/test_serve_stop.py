"""A stop that keeps its memory (issue 23), against the real thing: `python -m train_app serve` (what `make
serve` runs) gets a SIGINT to its process group right after 30 webhook alerts were suppressed, and is
started again (the second stop is running_server's SIGTERM).

* The snapshot is written by the graceful shutdown: ``snapshot_every_s`` is an hour, so no periodic write
  can carry the memory (there is no blob before the stop), and the blob after the stop holds the 30
  suppressions, read by content.
* No Ray process outlives the stop: every process the command started carries the run's own RAY_TMPDIR in
  its environment (Ray's daemons and workers inherit it), and none is left.
* After the restart, none of the 30 resolutions is forwarded: the receiver (conftest.Receiver, a local
  HTTP server standing in for the team's pager) gets none of them.

The command starts its own Ray cluster, never the session's (``ray_cluster``, started in-process with
``address="local"``): RAY_ADDRESS is unset in the child and RAY_TMPDIR is its own, so `serve run` finds no
``ray_current_cluster`` file to join and starts a fresh one there.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from alertsieve.bundle import ModelBundle
from alertsieve.schema import LabelledAlert, fingerprint_of
from alertsieve.store import open_store
from serve_app.snapshot import SNAPSHOT_BLOB, decode
from tests.conftest import TOKEN, Receiver, free_port, running_server
from tests.serve_app.test_restart import forwarded, key, notify, resolved
from train_app.deploy import set_app_args

pytestmark = pytest.mark.slow
SUPPRESSED = 30
REPO = Path(__file__).resolve().parents[2]
START_S = 420.0  # a Serve start on a busy 2-core machine, next to the test session's own cluster
STOP_S = 90.0


def serve_env(home: Path, ray_tmp: Path, port: int) -> dict[str, str]:
    """The command's environment: this test's home, port and Ray temp dir; nothing that finds another cluster."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    for name in ("ALERTSIEVE_STATE_URI", "ALERTSIEVE_ARTIFACT_ROOT", "ALERTSIEVE_MODEL_NAME"):
        env.pop(name, None)
    return {
        **env,
        "ALERTSIEVE_HOME": str(home),
        "ALERTSIEVE_PORT": str(port),
        "ALERTSIEVE_API_TOKEN": TOKEN,
        "RAY_TMPDIR": str(ray_tmp),
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # as the Makefile's serve target
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": str(REPO),
    }


def ray_processes(ray_tmp: Path) -> list[int]:
    """The live processes whose environment names ``ray_tmp`` as RAY_TMPDIR: those the command started."""
    marker = f"RAY_TMPDIR={ray_tmp}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            alive = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
            if alive and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


def names(pids: list[int]) -> set[str]:
    """What ``pids`` run: the name of each one's program (Ray's workers: their title, e.g. ray::ProxyActor)."""
    found = set()
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if argv[0]:
            found.add(Path(argv[0].decode(errors="replace").split(" ")[0]).name)
    return found


def kill_all(ray_tmp: Path) -> None:
    for pid in ray_processes(ray_tmp):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def noise_alerts(history: list[LabelledAlert]) -> list[dict[str, Any]]:
    """The history's noise as new webhook occurrences (a pod of their own, so the text stays familiar)."""
    out = []
    for i, a in enumerate(h for h in history if not h.actionable):
        labels = {**a.labels, "pod": f"stop-{i}"}
        out.append(
            {
                "labels": labels,
                "annotations": a.annotations,
                "startsAt": a.startsAt.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "status": "firing",
                "fingerprint": fingerprint_of(labels),
            }
        )
    return out


def suppress(url: str, history: list[LabelledAlert], count: int) -> list[dict[str, Any]]:
    """Post the history's noise to the webhook, ten alerts a notification, until ``count`` are suppressed."""
    candidates, found = noise_alerts(history), []
    for start in range(0, min(len(candidates), 400), 10):
        batch = candidates[start : start + 10]
        reply = httpx.post(f"{url}/v1/alertmanager", json={"version": "4", "alerts": batch}, timeout=120)
        assert reply.status_code == 200, reply.text
        by_fingerprint = {d["fingerprint"]: d["decision"] for d in reply.json()["decisions"]}
        found += [a for a in batch if by_fingerprint.get(a["fingerprint"]) == "suppress"]
        if len(found) >= count:
            return found[:count]
    pytest.fail(f"the small model suppressed {len(found)} of the history's noise alerts, {count} needed")


def suppressions_in_snapshot(home: Path) -> set[tuple[str, float]]:
    data = open_store(str(home / "state")).get_blob(SNAPSHOT_BLOB)
    assert data is not None, "no router snapshot after the stop"
    return {
        (d.fingerprint, d.startsAt.timestamp())
        for d in decode(data).decisions
        if d.startsAt and d.decision == "suppress"
    }


def test_a_sigint_right_after_30_suppressions_keeps_them_across_a_restart(
    tmp_path: Path, small_bundle: ModelBundle, small_history: list[LabelledAlert]
) -> None:
    home, port, receiver = tmp_path / "home", free_port(), Receiver()
    ray_tmp = Path(tempfile.mkdtemp(prefix="as-stop-"))  # short: Ray's unix socket paths live under it
    small_bundle.save(home / "champion")
    config = tmp_path / "serve_config.yaml"
    args = {
        "champion": str(home / "champion"),
        "downstream_url": receiver.url,
        "snapshot_every_s": 3600,  # only the shutdown's flush can carry the memory
        "page_after_minutes": 0,  # no delayed paging: the history's alerts have been firing for months
    }
    config.write_text(set_app_args((REPO / "serve_config.yaml").read_text(), "alertsieve", args))
    # started as a script starts a job with `&` (SIGINT ignored, and inherited unless handled): the harder case,
    # since a SIG_IGN inherited by `serve run` would make it deaf to the stop (a terminal's Ctrl-C: the unit test)
    serve = shlex.join([sys.executable, "-m", "train_app", "serve", "--config", str(config)])
    command = ["sh", "-c", f"trap '' INT; exec {serve}"]
    env, url = serve_env(home, ray_tmp, port), f"http://127.0.0.1:{port}"
    try:
        with running_server(command, f"{url}/readyz", START_S, env, tmp_path / "first.log") as first:
            noise = suppress(url, small_history, SUPPRESSED)
            assert open_store(str(home / "state")).get_blob(SNAPSHOT_BLOB) is None  # nothing written yet
            running = names(ray_processes(ray_tmp))  # the marker finds Ray's daemons and its workers
            assert {"gcs_server", "raylet", "ray::ServeReplica:alertsieve:Ingress"} <= running, running
            os.killpg(first.pid, signal.SIGINT)  # as Ctrl-C does: to the process group
            assert first.wait(timeout=STOP_S) == 0, (tmp_path / "first.log").read_text(errors="replace")[-3000:]
        assert {key(a) for a in noise} <= suppressions_in_snapshot(home)
        left = ray_processes(ray_tmp)
        assert not left, f"Ray processes outlive the stop: {names(left)}"

        with running_server(command, f"{url}/readyz", START_S, env, tmp_path / "second.log"):
            receiver.bodies.clear()
            for alert in noise:
                assert notify(url, resolved(alert))["forwarded"] == 0
            assert not [a for a in noise if forwarded(receiver, a["fingerprint"])]
    finally:
        kill_all(ray_tmp)  # whatever a failed stop left behind
        receiver.close()
        shutil.rmtree(ray_tmp, ignore_errors=True)
