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
import signal, subprocess, sys, time
out, mode = sys.argv[1], sys.argv[2]
grouped = subprocess.Popen(["sleep", "300"])  # like Ray's raylet and agents: in the child's process group
apart = subprocess.Popen(["sleep", "300"], process_group=0)  # like Ray's workers: a group of their own
if mode == "ignore":
    signal.signal(signal.SIGINT, lambda signum, frame: None)
open(out + ".pids", "w").write(f"{grouped.pid} {apart.pid}")
try:
    while True:
        time.sleep(0.1)
except KeyboardInterrupt:  # Python's own SIGINT handler, as serve run has it
    time.sleep(1.0)  # longer than subprocess.call's 0.25 s
    open(out + ".flushed", "w").write("snapshot")
    sys.exit(0)
"""

PARENT = (
    "import signal, sys; from train_app.foreground import run_foreground; "
    # "ignored": started as a script's shell starts a job with `&`, SIGINT ignored (and inherited, unless handled)
    "sys.argv[5] == 'ignored' and signal.signal(signal.SIGINT, signal.SIG_IGN); "
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


def start(
    tmp_path: Path, mode: str, grace_s: float, sigint: str = "default"
) -> tuple[subprocess.Popen[bytes], Path, list[int]]:
    out = tmp_path / "child"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, str(out), mode, str(grace_s), sigint], env=env, start_new_session=True
    )
    wait_for(out.with_suffix(".pids"))
    return parent, out, [int(pid) for pid in out.with_suffix(".pids").read_text().split()]


def wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in pids):
        assert time.monotonic() < deadline, (
            f"the child's leftovers outlived the stop: {[p for p in pids if not gone(p)]}"
        )
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("sig", "sigint"), [(signal.SIGINT, "default"), (signal.SIGTERM, "default"), (signal.SIGINT, "ignored")]
)
def test_a_stop_gives_the_child_time_to_flush_and_leaves_nothing_running(
    tmp_path: Path, sig: signal.Signals, sigint: str
) -> None:
    """Also when the command started with SIGINT ignored: the child still hears the SIGINT passed on."""
    parent, out, leftovers = start(tmp_path, "flush", grace_s=30, sigint=sigint)
    os.killpg(parent.pid, sig)  # Ctrl-C (or a pod's SIGTERM) to the command's process group
    assert parent.wait(timeout=60) == 0
    assert out.with_suffix(".flushed").read_text() == "snapshot"
    wait_gone(leftovers)


def test_a_child_that_will_not_stop_is_killed_when_the_grace_runs_out(tmp_path: Path) -> None:
    parent, out, leftovers = start(tmp_path, "ignore", grace_s=1)
    os.killpg(parent.pid, signal.SIGINT)
    assert parent.wait(timeout=60) == 128 + signal.SIGKILL
    assert not out.with_suffix(".flushed").exists()
    wait_gone(leftovers)


def test_the_exit_status_is_the_childs() -> None:
    assert run_foreground([sys.executable, "-c", "import sys; sys.exit(3)"]) == 3
    assert run_foreground([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]) == 143
