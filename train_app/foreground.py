"""Runs a long-lived child (``serve run`` for `python -m train_app serve`) in the foreground, and stops it
so that it keeps its memory.

Python's ``subprocess.call`` SIGKILLs its child 0.25 s after a Ctrl-C: Serve never ran its graceful shutdown,
the Ingress never wrote its snapshot, and Ray's agents outlived the stop. Here the child runs in its own
session; the first SIGINT or SIGTERM (Ctrl-C, ``kill``, a pod's termination) is passed on to it as one
SIGINT, which ``serve run`` answers with ``serve.shutdown()`` (each replica's graceful ``__del__``: the
router snapshot), and it gets ``grace_s`` to exit. A second signal, or the grace running out, ends it with
SIGKILL. Whatever it left in its session (Ray's raylet, agents, workers) is then stopped: SIGTERM, and
SIGKILL for what is still there a few seconds later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from types import FrameType

STOP_GRACE_S = 60.0  # serve.shutdown waits up to each replica's graceful_shutdown_timeout_s (20 s by default)
LEFTOVER_GRACE_S = 5.0


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to the process group (0: only ask whether it exists); False when nothing is left in it."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    return True


def stop_group(group: int, grace_s: float = LEFTOVER_GRACE_S) -> None:
    """SIGTERM every process of ``group``, then SIGKILL those still there after ``grace_s``."""
    if not _signal_group(group, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _signal_group(group, 0):
            return
        time.sleep(0.1)
    _signal_group(group, signal.SIGKILL)


def run_foreground(argv: Sequence[str], env: Mapping[str, str] | None = None, grace_s: float = STOP_GRACE_S) -> int:
    """Run ``argv`` until it exits; stop it gracefully on SIGINT or SIGTERM. Returns its exit status (128 +
    the signal when a signal ended it, as a shell says)."""
    child = subprocess.Popen(list(argv), env=dict(env) if env is not None else None, start_new_session=True)
    asked: list[float] = []  # when a stop was asked, once per signal

    def on_signal(signum: int, frame: FrameType | None) -> None:
        asked.append(time.monotonic())
        if len(asked) == 1:
            child.send_signal(signal.SIGINT)  # serve run: KeyboardInterrupt -> serve.shutdown()
        else:
            _signal_group(child.pid, signal.SIGKILL)  # asked twice: now

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                code = child.wait(timeout=0.2)
                return code if code >= 0 else 128 - code
            except subprocess.TimeoutExpired:
                if asked and time.monotonic() - asked[0] > grace_s:
                    _signal_group(child.pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_group(child.pid)  # what the child left behind in its session
