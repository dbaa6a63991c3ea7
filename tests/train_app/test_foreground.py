"""`python -m train_app serve` stops its child gracefully (issue 23): a Ctrl-C reaches ``serve run`` as one
SIGINT with time to shut down (Python's ``subprocess.call`` SIGKILLed it after 0.25 s, so the Ingress never
wrote its snapshot), and nothing the child started outlives the stop. A small Python child stands in for
``serve run``: it takes a second to "flush" after SIGINT, and leaves a grandchild behind in its session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from train_app.foreground import run_foreground

CHILD = """
import os, signal, subprocess, sys, time
out = sys.argv[1]
grandchild = subprocess.Popen(["sleep", "300"])  # like Ray's agents: started by the child, in its session
def stop(signum, frame):
    if sys.argv[2] == "ignore":
        return
    time.sleep(1.0)  # longer than subprocess.call's 0.25 s
    open(out + ".flushed", "w").write("snapshot")
    sys.exit(0)
signal.signal(signal.SIGINT, stop)
open(out + ".pids", "w").write(str(grandchild.pid))
while True:
    time.sleep(0.1)
"""

PARENT = (
    "import sys; from train_app.foreground import run_foreground; "
    "sys.exit(run_foreground([sys.executable, '-c', sys.argv[1], sys.argv[2], sys.argv[3]], grace_s=float(sys.argv[4])))"
)


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # a zombie nobody reaped yet has stopped all the same


def wait_for(path: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def start(tmp_path: Path, mode: str, grace_s: float) -> tuple[subprocess.Popen[bytes], Path, int]:
    out = tmp_path / "child"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, str(out), mode, str(grace_s)], env=env, start_new_session=True
    )
    wait_for(out.with_suffix(".pids"))
    return parent, out, int(out.with_suffix(".pids").read_text())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_gives_the_child_time_to_flush_and_leaves_nothing_running(tmp_path: Path, sig: signal.Signals) -> None:
    parent, out, grandchild = start(tmp_path, "flush", grace_s=30)
    os.killpg(parent.pid, sig)  # Ctrl-C (or a pod's SIGTERM) to the command's process group
    assert parent.wait(timeout=60) == 0
    assert out.with_suffix(".flushed").read_text() == "snapshot"
    deadline = time.monotonic() + 10
    while not gone(grandchild):
        assert time.monotonic() < deadline, "the child's leftover outlived the stop"
        time.sleep(0.1)


def test_a_child_that_will_not_stop_is_killed_when_the_grace_runs_out(tmp_path: Path) -> None:
    parent, out, grandchild = start(tmp_path, "ignore", grace_s=1)
    os.killpg(parent.pid, signal.SIGINT)
    assert parent.wait(timeout=60) == 128 + signal.SIGKILL
    assert not out.with_suffix(".flushed").exists()
    deadline = time.monotonic() + 10
    while not gone(grandchild):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_the_exit_status_is_the_childs() -> None:
    assert run_foreground([sys.executable, "-c", "import sys; sys.exit(3)"]) == 3
    assert run_foreground([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]) == 143
